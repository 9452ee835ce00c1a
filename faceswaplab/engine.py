"""The engine: model files resolved through the store, models built once through the session
cache, handed to analysis and swapping.

An Engine is cheap to create (it loads nothing); models are loaded on first use and shared by
every Engine in the process that asks for the same file, providers and thread count. It
composes the model wrappers below it (analysis, swap/swapper.py, enhance/); none of them
imports it, and the swap step takes it as a `swap.face_swap.SwapModels`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

from .analysis.analyser import Analyser
from .analysis.detector import Detector, SCRFDDetector
from .errors import ModelCorruptError, OptionsError
from .models import first_run, sessions
from .models.registry import (
    ANALYSIS_PACK,
    CONVERTER,
    CONVERTER_FILE,
    DETECTOR,
    GENDERAGE,
    KNOWN_MODELS,
    LANDMARK,
    OCCLUDER,
    RECOGNITION,
    SWAPPER,
    swapper_kind,
    swapper_kind_for,
)
from .models.store import ModelStore, resolve_models_dir
from .options import EngineOptions
from .swap import swapper as swapper_model

DETECTOR_FILE = f"{ANALYSIS_PACK}/det_10g.onnx"
RECOGNITION_FILE = f"{ANALYSIS_PACK}/w600k_r50.onnx"
GENDERAGE_FILE = f"{ANALYSIS_PACK}/genderage.onnx"
LANDMARK68_FILE = f"{ANALYSIS_PACK}/1k3d68.onnx"
_KNOWN_SWAPPERS = {s.filename for s in KNOWN_MODELS if s.kind == SWAPPER}
_size_lock = threading.Lock()
_size_cache: dict[tuple[str, int, int], int | None] = {}


def swapper_file(name: str) -> str:
    """`inswapper_128` -> `inswapper_128.onnx`: swappers are named with or without the suffix."""
    text = str(name).strip()
    if text and not text.lower().endswith(".onnx") and "/" not in text and "\\" not in text:
        return text + ".onnx"
    return text


def _needs_size(filename: str, declared: str | None) -> bool:
    """Only a file the registry does not know, or a family named without its size, needs its
    graph read (reading the header of a 500 MB file costs about a second)."""
    if declared:
        return swapper_kind(declared) is None
    return filename not in _KNOWN_SWAPPERS


def _swapper_size(path: Path) -> int | None:
    from .models.signature import swapper_size

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _size_lock:
        if key in _size_cache:
            return _size_cache[key]
    size = swapper_size(path)
    with _size_lock:
        _size_cache[key] = size
    return size


class Engine:
    def __init__(
        self,
        options: EngineOptions | None = None,
        *,
        store: ModelStore | None = None,
        detector: Detector | None = None,
        host_models_dir: Path | None = None,
        nsfw_detector: Any = None,
        restorers: Mapping[str, Any] | None = None,
        upscalers: Mapping[str, Any] | None = None,
    ) -> None:
        self.options = options or EngineOptions()
        if store is None:
            store = ModelStore(resolve_models_dir(self.options.models_dir, host_default=host_models_dir))
        self.store = store
        first_run.attach(store, self.options)  # a missing known model is fetched on first use unless offline
        self._detector_override = detector
        self.nsfw_detector = nsfw_detector  # None: nudenet's model (tests inject one)
        self._lock = threading.Lock()
        self._analyser: Analyser | None = None
        self._providers: list[str] | None = None
        # Named restorers / upscalers a host registers (web-ui adapters); see enhance/interfaces.py.
        self._restorers: dict[str, Any] = {}
        self._upscalers: dict[str, Any] = {}
        for rname, restorer in (restorers or {}).items():
            self.register_restorer(rname, restorer)
        for uname, upscaler in (upscalers or {}).items():
            self.register_upscaler(uname, upscaler)
        # A host with a Stable Diffusion model (the web-ui) sets this: enhance/inpaint.py.
        self.inpainter: Any = None
        # Dataset captioners a host offers by name ("blip", "deepbooru"): batch/captions.py.
        self.captioners: dict[str, Any] = {}

    def with_options(self, **changes: Any) -> "Engine":
        """This engine with some options changed (a batch's per-worker thread count): the
        store, registered models and host hooks are shared; sessions follow the new options."""
        import copy

        other = copy.copy(self)
        other.options = self.options.replace(**changes)
        other._lock, other._analyser, other._providers = threading.Lock(), None, None
        return other

    @property
    def providers(self) -> list[str]:
        with self._lock:
            if self._providers is None:
                self._providers = sessions.resolve_providers(self.options.providers)
            return list(self._providers)

    def _insightface_model(self, name: str, kind: str) -> Any:
        path = self.store.require(name, kind)

        def factory(providers: list[str], so: Any) -> Any:
            from insightface.model_zoo import model_zoo

            model = model_zoo.get_model(str(path), providers=providers, sess_options=so, static_shape_sessions=False)
            if model is None:
                raise ModelCorruptError(
                    f"{path} does not look like a {kind} model (insightface could not route it by its input shape); "
                    "replace it with the original file"
                )
            if kind == DETECTOR:
                SCRFDDetector.prepare(model)
            return model

        return sessions.cached(path, self.providers, self.options.threads, f"insightface:{kind}", factory)

    def detector(self) -> Detector:
        if self._detector_override is not None:
            return self._detector_override
        model = self._insightface_model(DETECTOR_FILE, DETECTOR)
        # SCRFDDetector is a thin stateless view over the shared model.
        return SCRFDDetector(model)

    def recognizer(self) -> Any:
        return self._insightface_model(RECOGNITION_FILE, RECOGNITION)

    def genderage(self) -> Any:
        return self._insightface_model(GENDERAGE_FILE, GENDERAGE)

    def analyser(self) -> Analyser:
        """Built once per engine (its models come from the process-wide session cache)."""
        with self._lock:
            cached = self._analyser
        if cached is None:
            cached = Analyser(self.detector(), self.recognizer(), self.genderage)
            with self._lock:
                self._analyser = self._analyser or cached
                cached = self._analyser
        return cached

    def analyse(self, image: Any, *, what: str = "image", attributes: bool = False, want: int = 1) -> tuple[Any, list[Any]]:
        """Decode `image` and analyse its faces with this engine's detection settings.

        Returns (LoadedImage, faces); the one place source, reference, checkpoint and tab
        images are analysed, so they all follow det_size / det_thresh / retry / rotations
        alike. `want`: how many faces the caller needs before turned images are tried.
        """
        from .imageio import load_image

        loaded = load_image(image, what=what)
        faces = self.analyser().analyse(
            loaded.rgb,
            det_size=self.options.det_size,
            det_thresh=self.options.det_thresh,
            retry=self.options.det_retry,
            attributes=attributes,
            rotations=self.options.rotations == "auto",
            want=want,
        )
        return loaded, faces

    def swapper(self, name: str | None = None, kind: str | None = None) -> swapper_model.Swapper:
        """The swapper file `name` (default: the options' swapper; `inswapper_128` means
        `inswapper_128.onnx`), run as its registry kind (`kind`, the user's --swapper-type,
        names a family or a row and overrides what the file name says). A kind that needs a
        converter loads it too (ModelMissingError naming the converter file when absent)."""
        path = self.store.require(swapper_file(name or self.options.swapper), SWAPPER)
        row = swapper_kind_for(path.name, kind, size=_swapper_size(path) if _needs_size(path.name, kind) else None)
        converter = self.converter(row.source.converter) if row.source.method == CONVERTER else None

        def factory(providers: list[str], so: Any) -> Any:
            return swapper_model.load(path, row, providers, so, converter=converter)

        return sessions.cached(path, self.providers, self.options.threads, f"swapper:{row.name}", factory)

    def converter(self, name: str | None) -> swapper_model.Converter:
        """An identity-embedding converter file ([1,512] -> [1,512]) at the models-dir root."""
        if not name:
            raise OptionsError("this swapper kind needs a converter, but its row names none")
        path = self.store.require(name, CONVERTER_FILE)
        def factory(providers: list[str], so: Any) -> Any:
            import onnxruntime as ort

            return ort.InferenceSession(str(path), sess_options=so, providers=providers)

        session = sessions.cached(path, self.providers, self.options.threads, "converter", factory)
        in_name, out_name = session.get_inputs()[0].name, session.get_outputs()[0].name

        def run(vec: Any) -> Any:
            return session.run([out_name], {in_name: vec})[0]

        return run

    def required_files(self) -> list[tuple[str, str]]:
        """(name, kind) of the model files every swap loads, for notices that must not hash."""
        files = [(self.options.swapper, SWAPPER)]
        if self._detector_override is None:
            files.append((DETECTOR_FILE, DETECTOR))
        files.append((RECOGNITION_FILE, RECOGNITION))
        return files

    def session(self, path: Path) -> Any:
        """A plain cached session for auxiliary models (restorers, parsers)."""
        return sessions.create_session(path, self.providers, self.options.threads)

    # --- enhancement models (restorers, upscalers, parsers) ---------------------------------

    def register_restorer(self, name: str, restorer: Any) -> None:
        """Make `restorer` available as `--restorer NAME` (an enhance.Restorer or ImageRestorer).
        A registered name wins over a file of the same name in <models dir>/restorers/."""
        from .enhance.interfaces import check_restorer

        check_restorer(name, restorer)
        with self._lock:
            self._restorers[str(name)] = restorer

    def register_upscaler(self, name: str, upscaler: Any) -> None:
        """Make `upscaler` available as `--upscale NAME` (an enhance.Upscaler)."""
        from .enhance.interfaces import check_upscaler

        check_upscaler(name, upscaler)
        with self._lock:
            self._upscalers[str(name)] = upscaler

    def restorer_names(self) -> list[str]:
        """Registered restorers, then the ONNX files in <models dir>/restorers/."""
        with self._lock:
            names = list(self._restorers)
        return names + [p.name for p in self.store.list_dir("restorer") if p.name not in names]

    def upscaler_names(self) -> list[str]:
        """The built-in interpolations first (the cheap default), then registered upscalers."""
        from .enhance.upscale import BUILTIN_UPSCALERS

        with self._lock:
            names = list(self._upscalers)
        return [n for n in BUILTIN_UPSCALERS if n not in names] + names

    @staticmethod
    def _lookup(registry: dict[str, Any], name: str) -> Any:
        """By name, case-insensitively; a registered `prefix:name` also answers to its bare
        name (the web-ui's own restorer/upscaler names, as older requests and Extras send)."""
        if name in registry:
            return registry[name]
        want = name.strip().lower()
        folded = {k.lower(): v for k, v in registry.items()}
        if want in folded:
            return folded[want]
        bare = [v for k, v in folded.items() if ":" in k and k.split(":", 1)[1].strip() == want]
        return bare[0] if len(bare) == 1 else None

    def restorer(self, name: str) -> Any:
        """A registered restorer, else an ONNX restorer file (ModelMissingError if absent)."""
        with self._lock:
            found = self._lookup(self._restorers, name)
        if found is not None:
            return found
        from .enhance.restorer import OnnxRestorer

        path = self.store.require(name, "restorer")
        return OnnxRestorer(self.session(path), path.name)

    def upscaler(self, name: str) -> Any:
        """A registered upscaler or a built-in interpolation (lanczos, cubic)."""
        from .enhance.upscale import BUILTIN_UPSCALERS

        with self._lock:
            found = self._lookup(self._upscalers, name)
        if found is None:
            found = self._lookup(dict(BUILTIN_UPSCALERS), name)
        if found is None:
            raise OptionsError(f"unknown upscaler {name!r}; available: {', '.join(self.upscaler_names())}")
        return found

    def landmarks68(self) -> Any:
        """insightface's 68-point 3D landmark model (area masks; loaded only when asked)."""
        return self._insightface_model(LANDMARK68_FILE, LANDMARK)

    def occluder_names(self) -> list[str]:
        return [p.name for p in self.store.list_dir(OCCLUDER)]

    def occluders(self, name: str) -> list[Any]:
        """The occluder file `name` in <models dir>/occluders/, or for "many" every occluder
        there (combined by minimum); ModelMissingError naming the file when absent."""
        from .enhance.occlusion import MANY, Occluder

        if name.strip().lower() == MANY:
            names = self.occluder_names()
            if not names:
                # the message of the first known occluder: where it goes and how to fetch it
                self.store.require("occluders/xseg_1.onnx", OCCLUDER)
        else:
            names = [name]
        out = []
        for n in names:
            path = self.store.require(n, OCCLUDER)
            out.append(Occluder(self.session(path), path.name))
        return out

    def parser(self, name: str) -> Any:
        """An ONNX face parser file from <models dir>/parsers/ (ModelMissingError if absent)."""
        from .enhance.parsing import FaceParser

        path = self.store.require(name, "parser")
        return FaceParser(self.session(path), path.name)
