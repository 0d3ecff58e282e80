"""The baseline for the sweep benchmark: pywinrm running the same detect
scripts on the same simulated hosts, hosts in parallel threads, NTLM with
message encryption, in one of two modes:

- "shell": as well as pywinrm allows, one shell per host reused for every
  script (its low-level Protocol API);
- "session": its documented API, `Session.run_ps` per script (a shell per
  script, one authenticated connection per host).

usage: pywinrm_sweep.py SPEC.json
SPEC: {"urls": [...], "user": "...", "password": "...", "scripts": [...],
       "concurrency": N, "mode": "shell" | "session"}
Prints {"seconds": wall time, "outputs": number of exit-0 commands}.
"""

import base64
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import winrm
from winrm.protocol import Protocol


def encoded(script):
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def sweep_host_session(url, spec):
    session = winrm.Session(url, auth=(spec["user"], spec["password"]),
                            transport="ntlm", message_encryption="always")
    return sum(session.run_ps(script).status_code == 0 for script in spec["scripts"])


def sweep_host(url, spec):
    protocol = Protocol(url, transport="ntlm", username=spec["user"],
                        password=spec["password"], message_encryption="always")
    shell = protocol.open_shell(codepage=65001)
    ok = 0
    for script in spec["scripts"]:
        command = protocol.run_command(
            shell, "powershell.exe",
            ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
             "-EncodedCommand", encoded(script)])
        _out, _err, code = protocol.get_command_output(shell, command)
        protocol.cleanup_command(shell, command)
        ok += code == 0
    protocol.close_shell(shell)
    return ok


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=spec["concurrency"]) as pool:
        host = sweep_host if spec["mode"] == "shell" else sweep_host_session
        outputs = sum(pool.map(lambda url: host(url, spec), spec["urls"]))
    print(json.dumps({"seconds": time.perf_counter() - started, "outputs": outputs}))


if __name__ == "__main__":
    main()
