"""Stand-in for the web-ui's `launch` module (v1.10.1 launch.py re-exports modules/launch_utils.py):
`run_pip(command, desc=None, live=default_command_live)` runs `"{python}" -m pip {command}
--prefer-binary` through the shell and raises RuntimeError with the output on failure;
`is_installed(package)` tells whether a distribution is installed. This one really runs pip
(tests run install.py against a real environment with it)."""
import importlib.metadata
import importlib.util
import subprocess
import sys

python = sys.executable
default_command_live = False
pip_log = []


def run(command, desc=None, errdesc=None, custom_env=None, live=default_command_live):
    if desc is not None:
        print(desc)
    result = subprocess.run(command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=custom_env)
    if result.returncode != 0:
        message = f"{errdesc or 'Error running command'}.\nCommand: {command}\nError code: {result.returncode}\n"
        message += f"stdout: {result.stdout.decode(errors='replace')}\nstderr: {result.stderr.decode(errors='replace')}"
        raise RuntimeError(message)
    return result.stdout.decode(errors="replace")


def run_pip(command, desc=None, live=default_command_live):
    pip_log.append(command)
    return run(f'"{python}" -m pip {command} --prefer-binary', desc=f"Installing {desc}", errdesc=f"Couldn't install {desc}", live=live)


def is_installed(package):
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            return False
        return spec is not None
    return dist is not None
