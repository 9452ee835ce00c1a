"""`ui --auth` and the refusal to serve the app on a network address without it (issue 13 §2)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from faceswaplab.cli import main


def test_network_host_without_auth_refuses_in_one_line(capfd):
    rc = main(["ui", "--host", "0.0.0.0", "--port", "7999"])
    err = capfd.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "without auth" in err and "--auth USER:PASS" in err and "--allow-no-auth" in err


def test_bad_auth_value_is_one_line(capfd):
    assert main(["ui", "--host", "0.0.0.0", "--auth", "nocolon"]) == 2
    assert "USER:PASSWORD" in capfd.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_auth_is_gradios_login(engine):
    pytest.importorskip("gradio", minversion="5")
    from faceswaplab.ui import app

    port = _free_port()
    demo = app.launch(engine, host="127.0.0.1", port=port, block=False, auth=[("anna", "s3cret")])
    try:
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as ei:
            opener.open(base + "/config", timeout=20)
        assert ei.value.code == 401
        data = b"username=anna&password=wrong"
        with pytest.raises(urllib.error.HTTPError) as ei:
            opener.open(base + "/login", data=data, timeout=20)
        assert ei.value.code == 400
        ok = opener.open(base + "/login", data=b"username=anna&password=s3cret", timeout=20)
        assert ok.status == 200
    finally:
        demo.close()


def test_startup_hint_points_at_share_flag(engine, capsys):
    pytest.importorskip("gradio", minversion="5")
    from faceswaplab.ui import app

    port = _free_port()
    demo = app.launch(engine, host="127.0.0.1", port=port, block=False)
    try:
        out = capsys.readouterr().out
        assert f"http://127.0.0.1:{port}" in out and "faceswaplab ui --share" in out
        assert "share=True" not in out
    finally:
        demo.close()
