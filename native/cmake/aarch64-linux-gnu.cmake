# Cross toolchain for the BlueBox 2.0 (Cortex-A53, ARMv8.0-A): Debian's g++-aarch64-linux-gnu.
# Used by `make wheel-aarch64` (tests/aarch64/stage.py) through scikit-build-core; the Python headers
# are the arm64 ones from Debian's libpython3.X-dev, passed as BLUEFIRE_PY_HEADERS (the folder that
# holds usr/include/python3.X and usr/include/aarch64-linux-gnu/python3.X).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Every object for the A53: no instruction newer than ARMv8.0 (+crc, +crypto as the A53 has them).
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-a53")
set(CMAKE_CXX_FLAGS_INIT "-mcpu=cortex-a53")
# libstdc++ and libgcc linked in: the module then needs only glibc (manylinux rule), whatever
# libstdc++ the vehicle's distribution ships. --exclude-libs keeps their symbols private: exported,
# they mix with the libstdc++.so.6 that OpenCV/ONNX Runtime load (two halves of std::locale: an
# ostringstream then prints no numbers - seen in the binding's error messages under qemu).
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL")
if(DEFINED ENV{BLUEFIRE_PY_HEADERS})
  set(BLUEFIRE_PY_HEADERS "$ENV{BLUEFIRE_PY_HEADERS}")
endif()
if(BLUEFIRE_PY_HEADERS)
  # Debian's usr/include/python3.X/pyconfig.h includes <aarch64-linux-gnu/python3.X/pyconfig.h>.
  string(APPEND CMAKE_CXX_FLAGS_INIT " -isystem ${BLUEFIRE_PY_HEADERS}/usr/include")
endif()
# Libraries and headers from the cross compiler's own sysroot, programs (cmake, python) from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pybind11 asks the (host, x86) interpreter for the module suffix; the target's comes from
# scikit-build-core, which derives SKBUILD_SOABI from SETUPTOOLS_EXT_SUFFIX
# (e.g. .cpython-311-aarch64-linux-gnu.so).
if(SKBUILD_SOABI)
  set(PYTHON_MODULE_EXTENSION ".${SKBUILD_SOABI}.so" CACHE INTERNAL "")
  set(PYTHON_MODULE_DEBUG_POSTFIX "" CACHE INTERNAL "")
endif()
