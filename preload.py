"""Command-line flags the web-ui adds for FaceSwapLab (`preload(parser)` runs before the
web-ui parses its arguments)."""


def preload(parser):
    parser.add_argument(
        "--faceswaplab-models-dir",
        type=str,
        default=None,
        help="FaceSwapLab models directory (default: $FACESWAPLAB_MODELS, else <models path>/faceswaplab)",
    )
    parser.add_argument(
        "--faceswaplab-providers",
        type=str,
        default=None,
        help="FaceSwapLab ONNX Runtime execution providers, e.g. cuda,cpu (overrides the setting)",
    )
