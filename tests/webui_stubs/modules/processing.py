"""Stand-in for modules/processing.py (v1.10.1): `StableDiffusionProcessing` (fields used by
scripts: prompt, seed, batch_size, n_iter, outpath_samples, extra_generation_params,
script_args, scripts, comments + `comment(text)`, all_prompts, all_seeds),
`StableDiffusionProcessingTxt2Img` (enable_hr, hr_scale), `StableDiffusionProcessingImg2Img`
(init_images), `Processed(p, images_list, seed=-1, info="", subseed=None, all_prompts=None,
all_negative_prompts=None, all_seeds=None, all_subseeds=None, index_of_first_image=0,
infotexts=None, comments="")`, and `process_images(p)` following the host's order of hooks:
before_process -> process -> per batch (before_process_batch, process_batch, decode, then
postprocess_image for each image, then save) -> Processed -> postprocess. Image generation
is `p.generate(batch_index, image_index)` (tests supply it; hires fix just resizes).

An img2img with a `mask` and no `generate` is an inpainting pass (the real class keeps the
mask as `image_mask`): its arguments are recorded in `inpaint_calls` and its "diffusion" is
deterministic, the init image moved towards a colour drawn from the seed by the denoising
strength, composited over the init image with the mask as the host's overlay does."""
from modules import images, scripts, shared


class StableDiffusionProcessing:
    def __init__(self, prompt="", seed=1, batch_size=1, n_iter=1, outpath_samples="outputs", script_args=None,
                 scripts_runner=None, generate=None, do_not_save_samples=False, **kwargs):
        self.prompt = prompt
        self.seed = seed
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.outpath_samples = outpath_samples
        self.extra_generation_params = {}
        self.script_args = list(script_args or [])
        self.scripts = scripts_runner
        self.comments = {}
        self.generate = generate
        self.do_not_save_samples = do_not_save_samples
        self.all_prompts = []
        self.all_seeds = []
        for k, v in kwargs.items():
            setattr(self, k, v)

    def comment(self, text):
        self.comments[text] = 1


class StableDiffusionProcessingTxt2Img(StableDiffusionProcessing):
    def __init__(self, enable_hr=False, hr_scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.enable_hr = enable_hr
        self.hr_scale = hr_scale


class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    def __init__(self, init_images=None, mask=None, denoising_strength=0.75, **kwargs):
        super().__init__(**kwargs)
        self.init_images = list(init_images or [])
        self.image_mask = mask
        self.denoising_strength = denoising_strength

    def close(self):
        self.closed = True


inpaint_calls = []


class Processed:
    def __init__(self, p, images_list, seed=-1, info="", subseed=None, all_prompts=None, all_negative_prompts=None,
                 all_seeds=None, all_subseeds=None, index_of_first_image=0, infotexts=None, comments=""):
        self.images = images_list
        self.prompt = p.prompt
        self.seed = seed
        self.info = info
        self.infotexts = infotexts or [info] * len(images_list)
        self.comments = "".join(f"{c}\n" for c in p.comments) if not comments else comments
        self.all_prompts = all_prompts or p.all_prompts
        self.all_seeds = all_seeds or p.all_seeds
        self.index_of_first_image = index_of_first_image


def create_infotext(p, index):
    params = ", ".join(f"{k}: {v}" for k, v in p.extra_generation_params.items() if v is not None)
    return f"{p.prompt}\nSeed: {p.all_seeds[index]}, {params}"


def _inpaint(p):
    import numpy as np
    from PIL import Image

    init = np.asarray(p.init_images[0].convert("RGB")).astype(np.float32)
    mask = np.asarray(p.image_mask.convert("L")).astype(np.float32)[..., None] / 255.0
    inpaint_calls.append({
        "init": init.astype(np.uint8), "mask": mask[..., 0], "denoise": p.denoising_strength,
        "prompt": p.prompt, "negative": getattr(p, "negative_prompt", ""), "seed": p.seed, "steps": getattr(p, "steps", None),
        "sampler": getattr(p, "sampler_name", None), "size": (getattr(p, "width", None), getattr(p, "height", None)),
        "cfg_scale": getattr(p, "cfg_scale", None), "scripts": p.scripts, "sd_model": getattr(p, "sd_model", None),
        "do_not_save_samples": p.do_not_save_samples, "state_job": shared.state.job,
    })
    rng = np.random.default_rng(p.seed)
    colour = rng.integers(0, 256, 3).astype(np.float32)
    diffused = init + p.denoising_strength * (colour - init)
    out = init + mask * (diffused - init)
    shared.state.nextjob()
    shared.state.job_count = 1
    return Processed(p, [Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))], p.seed)


def process_images(p):
    if getattr(p, "image_mask", None) is not None and p.generate is None:
        return _inpaint(p)
    if p.scripts is not None:
        p.scripts.before_process(p)
    shared.state.begin(job="txt2img")
    shared.state.job_count = p.n_iter
    if p.scripts is not None:
        p.scripts.process(p)
    out, infotexts = [], []
    total = p.batch_size * p.n_iter
    p.all_prompts = [p.prompt] * total
    p.all_seeds = [p.seed + i for i in range(total)]
    for n in range(p.n_iter):
        if shared.state.interrupted:
            break
        if p.scripts is not None:
            p.scripts.before_process_batch(p, batch_number=n, prompts=p.all_prompts, seeds=p.all_seeds)
            p.scripts.process_batch(p, batch_number=n, prompts=p.all_prompts, seeds=p.all_seeds)
        for i in range(p.batch_size):
            image = p.generate(n, i)
            if getattr(p, "enable_hr", False):
                image = image.resize((int(image.width * p.hr_scale), int(image.height * p.hr_scale)))
            if p.scripts is not None:
                pp = scripts.PostprocessImageArgs(image)
                p.scripts.postprocess_image(p, pp)
                image = pp.image
            index = n * p.batch_size + i
            text = create_infotext(p, index)
            if shared.opts.samples_save and not p.do_not_save_samples:
                images.save_image(image, p.outpath_samples, "", p.all_seeds[index], p.prompt, shared.opts.samples_format, info=text, p=p)
            out.append(image)
            infotexts.append(text)
        shared.state.nextjob()
    res = Processed(p, out, p.seed, infotexts[0] if infotexts else "", infotexts=infotexts)
    if p.scripts is not None:
        p.scripts.postprocess(p, res)
    return res
