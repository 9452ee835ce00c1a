"""Stand-in for modules/images.py (v1.10.1): `save_image(image, path, basename, seed=None,
prompt=None, extension='png', info=None, short_filename=False, no_prompt=False, grid=False,
pnginfo_section_name='parameters', p=None, existing_info=None, forced_filename=None, suffix="",
save_to_dirs=None)` -> (fullfn, txt_fullfn). Records every call in `saved`."""
import os

saved = []


def save_image(image, path, basename, seed=None, prompt=None, extension='png', info=None, short_filename=False,
               no_prompt=False, grid=False, pnginfo_section_name='parameters', p=None, existing_info=None,
               forced_filename=None, suffix="", save_to_dirs=None):
    os.makedirs(path, exist_ok=True)
    fullfn = os.path.join(path, f"{forced_filename or (basename or '%05d' % len(saved))}{suffix}.{extension}")
    image.save(fullfn)
    saved.append(fullfn)
    return fullfn, None
