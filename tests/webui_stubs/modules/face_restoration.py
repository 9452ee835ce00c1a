"""Stand-in for modules/face_restoration.py (v1.10.1): `FaceRestoration` with `name()` and
`restore(np_image)`."""


class FaceRestoration:
    def name(self):
        return "None"

    def restore(self, np_image):
        return np_image
