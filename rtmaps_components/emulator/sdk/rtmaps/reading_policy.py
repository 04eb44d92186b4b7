"""Reading policies, numbered as the PythonBridge `readingPolicy` enum lists them."""

SYNCHRO = 0
REACTIVE = 1
SAMPLING = 2
TRIGGERED = 3
PERIODIC_RESAMPLING = 4
