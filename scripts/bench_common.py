"""What the send benchmarks share: a free port on 127.0.0.1, and a project (the sample issue 1)
pointed at a plain SMTP server there, with no rate limit."""
import os
import shutil
import socket


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_project(folder, port, connections):
    os.makedirs(os.path.join(folder, "issues"), exist_ok=True)
    shutil.copy("issues/001-hello-hogmail.md", os.path.join(folder, "issues"))
    config = open("hogmail.yml").read()
    config = config.replace("  kind: outbox", "  kind: smtp").replace("smtp://127.0.0.1:2525", "smtp://127.0.0.1:%d" % port)
    config = config.replace("tls: required", "tls: none").replace("    username: hogmail\n", "")
    config = config.replace("connections: 4", "connections: %d" % connections)
    config = config.replace("rate: { per_second: 50, per_hour: 100000 }", "rate: { per_second: 0, per_hour: 0 }")
    # The benchmarks measure sending, not checking the sample's links (this machine is offline).
    config += "\nlinks:\n  check_before_send: false\n"
    open(os.path.join(folder, "hogmail.yml"), "w").write(config)
