"""RTMaps PythonBridge component: running top-1 accuracy of class indices against a labels file.

For replaying a labelled clip: `labels_file` holds one integer class per line, line k being the
label of the frame whose `misc1` (frame number, set by the camera and passed on by the
classifier) is k; `#` lines are comments, and `# clip: NAME` names the clip the labels describe.
Frames whose `misc3` (the camera's clip id) is not that clip's are not scored: the meter says, once,
that the frames come from another clip, and reports no accuracy. Outputs `accuracy` (FLOAT64:
correct, total, accuracy) and `text`. With no labels file the component stays silent, so the
diagram also replays unlabelled clips.
"""

import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

from rtmaps_components.clip import clip_id
from rtmaps_components.rate_limit import RateLimitedReporter

TEXT_BUFFER = 120
ACCURACY_FIELDS = ("correct", "total", "accuracy")


def read_labels(path):
    """(labels, clip name or None): one int per non-empty line, `# clip: NAME` optional; ValueError naming the
    file and line otherwise."""
    labels = []
    clip = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                if key.strip() == "clip" and value.strip():
                    clip = value.strip()
                continue
            if not line:
                continue
            try:
                labels.append(int(line))
            except ValueError:
                raise ValueError(f"{path}:{n}: expected an integer class index, got {line!r}") from None
    return labels, clip


class AccuracyMeter(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.REACTIVE)

    def Dynamic(self):
        self.add_input("class_index", rtmaps.types.INTEGER32)
        self.add_output("accuracy", rtmaps.types.FLOAT64, len(ACCURACY_FIELDS))
        self.add_output("text", rtmaps.types.TEXT_ASCII, TEXT_BUFFER)
        self.add_property("labels_file", "", subtype=rtmaps.types.FILE)

    def Birth(self):
        self.correct = 0
        self.total = 0
        self.unlabelled = 0
        self.other_clip = 0
        self.labels = None
        self.clip = None
        self.warn = RateLimitedReporter(rt.report_warning)
        path = str(self.properties["labels_file"].data)
        if not path:
            rt.report_info("accuracy meter: no labels_file, accuracy is not measured")
            return
        try:
            self.labels, self.clip = read_labels(path)
        except (OSError, ValueError) as e:
            rt.report_error(f"accuracy meter: cannot read labels: {e}")

    def Core(self):
        elt = self.inputs["class_index"].ioelt
        if self.labels is None:
            return
        frame = int(elt.misc1)
        if self.clip is not None and elt.misc3 and int(elt.misc3) != clip_id(self.clip):
            self.other_clip += 1
            if self.other_clip == 1:
                rt.report_warning(
                    f"accuracy meter: the frames come from another clip than the one labels_file "
                    f"describes ({self.clip!r}); accuracy is not measured"
                )
            return
        if not 0 <= frame < len(self.labels):
            self.unlabelled += 1
            self.warn.report(
                "unlabelled",
                f"accuracy meter: frame {frame} has no label (labels for 0..{len(self.labels) - 1})",
                rt.current_time(),
            )
            return
        self.total += 1
        self.correct += int(int(elt.data) == self.labels[frame])
        acc = self.correct / self.total
        out = rtmaps.types.Ioelt()
        out.data = [float(self.correct), float(self.total), acc]
        out.ts = elt.ts
        out.misc1 = elt.misc1
        out.type = rt.DataTypes.CTypes.Float64 | rt.DataTypes.CTypes.MiscFlag
        self.outputs["accuracy"].write(out)
        line = rtmaps.types.Ioelt()
        line.data = f"top-1 {100 * acc:.2f} % ({self.correct}/{self.total})"
        line.ts = elt.ts
        line.misc1 = elt.misc1
        line.type = rt.DataTypes.CTypes.MiscFlag
        self.outputs["text"].write(line)

    def Death(self):
        if self.other_clip and not self.total:
            rt.report_info(
                f"accuracy meter: no accuracy: {self.other_clip} frame(s) from another clip than {self.clip!r}"
            )
        elif self.labels is not None:
            acc = self.correct / self.total if self.total else float("nan")
            rt.report_info(
                f"accuracy meter: top-1 {100 * acc:.2f} % over {self.total} labelled frame(s)"
                f"{f', {self.unlabelled} without a label' if self.unlabelled else ''}"
            )


# The PythonBridge looks for `rtmaps_python` unless the diagram sets className: both names work.
rtmaps_python = AccuracyMeter
