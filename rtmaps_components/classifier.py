"""RTMaps PythonBridge component: classify each incoming image with a bluefire ONNX model.

Input `image` (IPL_IMAGE): BGR/RGB/BGRA/RGBA/GRAY 8-bit, GRAY 16-bit (mono16), YUV 4:2:2 packed
(UYVY/YUYV/YUY2/YVYU), 4:2:0 planar (I420/IYUV/YV12/NV12/NV21), 4:4:4 (YUV), converted exactly with
OpenCV; a raw Bayer mosaic labelled GRAY is demosaiced when `bayer_pattern` names its layout.
Any other format is refused, once per format with a message naming it and the converter to put
in front, then counted. Outputs, each stamped with the input frame's `ts` and `misc1..3` (frame
number, clip id; sent with MiscFlag) so latency and accuracy can be measured downstream:
`class_index` (INTEGER32), `label` (TEXT_ASCII), `scores` (FLOAT32 softmax, one per class),
`topk` (INTEGER32, the k best classes) and, with `annotate`, `annotated` (IPL_IMAGE).
The preprocessing (size, colour, normalisation) is read from the model file's metadata, never
configured by hand, so the vehicle sees exactly what training saw.
"""

import cv2
import numpy as np
import rtmaps.core as rt
import rtmaps.reading_policy
import rtmaps.types
from rtmaps.base_component import BaseComponent

from rtmaps_components.backends import ModelLoadError, load_model
from rtmaps_components.preprocess import BAYER_PATTERNS

LABEL_BUFFER = 128
MAX_TOP_K = 64
CT = rt.DataTypes.CTypes


try:  # the head in one native call (no numpy temporaries per frame); numpy where the module is not built
    from rtmaps_components._native import softmax_topk as _native_head
except ImportError:
    _native_head = None


def softmax(logits, out=None):
    """float32 softmax, into `out` when given (the classifier reuses one buffer per run)."""
    out = np.empty(logits.shape, np.float32) if out is None else out
    np.subtract(logits, np.max(logits), out=out)
    np.exp(out, out=out)
    out /= out.sum()
    return out


def softmax_topk(logits, probs, topk):
    """probs = softmax(logits), topk = the len(topk) most probable classes (best first, ties to the lower
    index, as argsort(-probs, kind="stable")), both filled in place; returns the best class."""
    if _native_head is not None:
        return _native_head(logits, probs, topk)
    softmax(logits, probs)
    topk[:] = np.argsort(-probs, kind="stable")[: len(topk)]
    return int(topk[0])


class Classifier(BaseComponent):
    def __init__(self):
        BaseComponent.__init__(self)
        self.force_reading_policy(rtmaps.reading_policy.REACTIVE)

    def Dynamic(self):
        self.add_input("image", rtmaps.types.IPL_IMAGE)
        self.add_output("class_index", rtmaps.types.INTEGER32)
        self.add_output("label", rtmaps.types.TEXT_ASCII, LABEL_BUFFER)
        self.add_output("scores", rtmaps.types.FLOAT32, 1000)  # resized to the model's classes in Birth
        self.add_output("topk", rtmaps.types.INTEGER32, MAX_TOP_K)
        self.add_property("model_file", "", subtype=rtmaps.types.FILE)
        self.add_property("backend", "3|0|auto|native|onnxruntime", rtmaps.types.ENUM)
        self.add_property("threads", 1)
        self.add_property("top_k", 5)
        self.add_property("annotate", False)  # adds the `annotated` image output
        # the layout of a raw sensor mosaic that arrives labelled GRAY; none = a true gray image
        self.add_property("bayer_pattern", f"{len(BAYER_PATTERNS)}|0|" + "|".join(BAYER_PATTERNS), rtmaps.types.ENUM)
        if self.get_property("annotate"):
            self.add_output("annotated", rtmaps.types.IPL_IMAGE)

    def Birth(self):
        self.model = None
        self.refused = 0
        self.refused_formats = {}  # channel_seq -> frames refused; the first of each is reported
        self.classified = 0
        self.bayer = self.properties["bayer_pattern"].get_selected_value()
        path = str(self.properties["model_file"].data)
        backend = self.properties["backend"].get_selected_value()
        threads = int(self.properties["threads"].data)
        self.annotate = bool(self.properties["annotate"].data)
        try:
            self.model = load_model(path, backend=backend, threads=threads)
        except ModelLoadError as e:
            rt.report_error(f"classifier: cannot load the model: {e}")
            return
        n = self.model.num_classes
        self.k = max(1, min(int(self.properties["top_k"].data), n, MAX_TOP_K))
        # reused every frame (a write copies the sample out): the head fills these, nothing is allocated
        self.probs = np.empty(n, np.float32)
        self.logits = np.empty(n, np.float32)
        self.top = np.empty(self.k, np.int32)
        self.labels = [name[:LABEL_BUFFER] for name in self.model.class_names]
        # one Ioelt for the four outputs of a frame: stamped once, then only its data and type change
        # between writes (a write copies the sample out); without MiscFlag the frame number would not travel
        self.out = rtmaps.types.Ioelt()
        self.out_types = {
            name: ctype | CT.MiscFlag
            for name, ctype in (
                ("scores", CT.Float32),
                ("topk", CT.Integer32),
                ("label", 0),
                ("class_index", CT.Integer32),
            )
        }
        self.outputs["scores"].alloc_output_buffer(n)
        self.outputs["topk"].alloc_output_buffer(self.k)
        prep = self.model.prep
        rt.report_info(
            f"classifier: {path} on {self.model.backend} ({threads} thread(s)), input "
            f"{prep.input_size[0]}x{prep.input_size[1]} {prep.color}, {n} classes"
        )

    def _write(self, name, data, src, ctype=0):
        out = rtmaps.types.Ioelt()
        out.data = data
        out.ts = src.ts
        out.misc1, out.misc2, out.misc3 = src.misc1, src.misc2, src.misc3
        out.type = ctype | CT.MiscFlag  # without MiscFlag the frame number would not travel
        self.outputs[name].write(out)

    def Core(self):
        if self.model is None:
            return
        elt = self.inputs["image"].ioelt
        img = elt.data
        seq = str(getattr(img, "channel_seq", "?")).upper()
        try:
            # native preprocessing on both backends when built (native: one call with inference); see classify_frame
            logits = self.model.classify_frame(img.image_data, seq, self.bayer, self.logits)
        except (ValueError, AttributeError, TypeError, cv2.error) as e:
            self.refused += 1
            self.refused_formats[seq] = self.refused_formats.get(seq, 0) + 1
            if self.refused_formats[seq] == 1:  # once per format, clearly; then only counted
                rt.report_warning(f"classifier: refusing {seq} frames (first: frame {elt.misc1}): {e}")
            return
        best = softmax_topk(logits, self.probs, self.top)
        self.classified += 1
        out, types, outputs = self.out, self.out_types, self.outputs
        out.ts = elt.ts
        out.misc1, out.misc2, out.misc3 = elt.misc1, elt.misc2, elt.misc3
        for name, data in (("scores", self.probs), ("topk", self.top), ("label", self.labels[best])):
            out.data = data
            out.type = types[name]
            outputs[name].write(out)
        if self.annotate:
            self._write("annotated", self._annotated(img, best, float(self.probs[best])), elt)
        out.data = best
        out.type = types["class_index"]
        outputs["class_index"].write(out)

    def _annotated(self, img, best, p):
        frame = np.array(img.image_data, copy=True)
        h, w = frame.shape[:2]
        scale = max(0.3, w / 640.0)
        text = f"{self.model.class_names[best]} {p:.2f}"
        color = (255,) * (frame.shape[2] if frame.ndim == 3 else 1)
        cv2.putText(
            frame,
            text,
            (4, max(12, int(24 * scale))),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.8,
            color,
            max(1, int(2 * scale)),
            cv2.LINE_AA,
        )
        out = rtmaps.types.IplImage()
        out.image_data = frame
        out.color_model = img.color_model
        out.channel_seq = img.channel_seq
        return out

    def Death(self):
        by_format = ", ".join(f"{n} {seq}" for seq, n in self.refused_formats.items())
        rt.report_info(
            f"classifier: {self.classified} frame(s) classified, {self.refused} refused"
            + (f" ({by_format})" if by_format else "")
        )


# The PythonBridge looks for `rtmaps_python` unless the diagram sets className: both names work.
rtmaps_python = Classifier
