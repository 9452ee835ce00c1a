"""Stand-in for modules/shared.py (v1.10.1): `cmd_opts`, `opts` (options.Options), `state`
(shared_state.State), `face_restorers` (list of face_restoration.FaceRestoration),
`sd_upscalers` (list of upscaler.UpscalerData), `OptionInfo` (re-exported from options.py),
`models_path`, `device`, `sd_model` (the loaded checkpoint; None when none is loaded), `interrogator`
(interrogate.InterrogateModels)."""
import argparse

from modules import interrogate, options, paths, shared_state

OptionInfo = options.OptionInfo
cmd_opts = argparse.Namespace(
    faceswaplab_models_dir=None, faceswaplab_providers=None, api=False, api_auth=None, nowebui=False, no_half=True, hide_ui_dir_config=False, no_gradio_queue=False
)
opts = options.Options({
    "samples_save": options.OptionInfo(True, "Always save all generated images"),
    "samples_format": options.OptionInfo("png", "File format for images"),
    "code_former_weight": options.OptionInfo(0.5, "CodeFormer weight"),
    "face_restoration_unload": options.OptionInfo(False, "Move face restoration model from VRAM into RAM after processing"),
    "ESRGAN_tile": options.OptionInfo(192, "Tile size for ESRGAN upscalers."),
    "ESRGAN_tile_overlap": options.OptionInfo(8, "Tile overlap for ESRGAN upscalers."),
    "postprocessing_operation_order": options.OptionInfo([], "Postprocessing operation order"),
})
state = shared_state.State()
face_restorers = []
sd_upscalers = []
models_path = paths.models_path
device = "cpu"
sd_model = "tiny-sd1 (stub)"
interrogator = interrogate.InterrogateModels("interrogate")
