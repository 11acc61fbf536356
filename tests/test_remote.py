"""Sharing artifacts over a DVC remote: a local folder, and S3 against a real S3-compatible server
(moto in server mode) on 127.0.0.1 with authentication enforced."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import commit, env, run

BUCKET = "ecgwm-remote"
TRACKED = ["data/world_model.pt", "data/embeddings.npy", "data/waveforms.npy", "data/combos.parquet",
           "data/probe/aug/dynamics/seed-0/probe.pt"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(repo: Path) -> dict:
    import hashlib

    return {f: hashlib.md5((repo / f).read_bytes()).hexdigest() for f in TRACKED}


class S3Server:
    """moto's S3 server on loopback; the first three calls (creating an IAM key) are unauthenticated."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        server = Path(sys.executable).parent / "moto_server"
        e = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        self.proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(self.port)], env=e,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("moto server did not start")

    def credentials(self) -> tuple[str, str]:
        import boto3

        kw = dict(endpoint_url=self.url, region_name="us-east-1")
        iam = boto3.client("iam", aws_access_key_id="AKIAINIT", aws_secret_access_key="init", **kw)
        iam.create_user(UserName="dvc")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="dvc", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="dvc")["AccessKey"]
        s3 = boto3.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], **kw)
        s3.create_bucket(Bucket=BUCKET)
        return key["AccessKeyId"], key["SecretAccessKey"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def s3():
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


def _dvc(args, cwd, check=True):
    return run(["dvc", *args], cwd, check=check, timeout=900)


@pytest.mark.slow
def test_s3_round_trip_to_a_fresh_clone(repro, s3, tmp_path):
    key, secret = s3.credentials()
    _dvc(["remote", "add", "s3team", f"s3://{BUCKET}/store"], repro)
    _dvc(["remote", "modify", "s3team", "endpointurl", s3.url], repro)
    _dvc(["remote", "modify", "s3team", "region", "us-east-1"], repro)
    _dvc(["remote", "modify", "--local", "s3team", "access_key_id", key], repro)
    _dvc(["remote", "modify", "--local", "s3team", "secret_access_key", secret], repro)
    commit(repro, "s3 remote")
    assert secret not in (repro / ".dvc/config").read_text() and key not in (repro / ".dvc/config").read_text()
    tracked = run(["git", "ls-files"], repro).stdout
    assert ".dvc/config.local" not in tracked

    _dvc(["push", "-r", "s3team", "--run-cache"], repro)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repro), str(clone)], tmp_path)
    shutil.copy(repro / ".dvc/config.local", clone / ".dvc/config.local")  # a colleague's own credentials
    _dvc(["pull", "-r", "s3team", "--run-cache"], clone)
    # the synthetic tree is not cached (it is regenerated in seconds): only the cohort stage runs
    out = _dvc(["repro"], clone).stdout
    assert [ln for ln in out.splitlines() if ln.startswith("Running stage")] == ["Running stage 'cohort':"], out
    assert "up to date" in _dvc(["status"], clone).stdout.lower()
    assert _digest(clone) == _digest(repro)
    assert (clone / "dvc.lock").read_text() == (repro / "dvc.lock").read_text()


@pytest.mark.slow
def test_bad_credentials_and_server_down_fail_clearly_and_leave_the_workspace(repro, s3, tmp_path):
    before = _digest(repro)
    bad = dict(env(), AWS_ACCESS_KEY_ID="AKIANOTAKEY", AWS_SECRET_ACCESS_KEY="wrong")
    cfg = [sys.executable, "-m", "dvc", "remote", "add", "-f", "s3bad", f"s3://{BUCKET}/store"]
    subprocess.run(cfg, cwd=repro, env=bad, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "dvc", "remote", "modify", "s3bad", "endpointurl", s3.url], cwd=repro,
                   env=bad, check=True, capture_output=True)
    p = subprocess.run([sys.executable, "-m", "dvc", "push", "-r", "s3bad"], cwd=repro, env=bad,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode != 0
    assert "ERROR" in p.stderr and ("InvalidAccessKeyId" in p.stderr or "credentials" in p.stderr.lower()
                                    or "forbidden" in p.stderr.lower()), p.stderr[-2000:]
    assert _digest(repro) == before and "up to date" in _dvc(["status"], repro).stdout.lower()

    down = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    _dvc(["remote", "add", "-f", "s3down", f"s3://{BUCKET}/store"], repro)
    _dvc(["remote", "modify", "s3down", "endpointurl", down], repro)
    _dvc(["remote", "modify", "s3down", "connect_timeout", "2"], repro)
    p = _dvc(["pull", "-r", "s3down", "data/world_model.pt", "--force"], repro, check=False)
    assert p.returncode != 0 and "ERROR" in p.stderr, p.stderr[-2000:]
    assert _digest(repro) == before and "up to date" in _dvc(["status"], repro).stdout.lower()


@pytest.mark.slow
def test_default_local_remote_shares_with_a_sibling_clone(repro, tmp_path):
    default = _dvc(["remote", "default"], repro).stdout.strip()
    assert default == "local"
    _dvc(["push"], repro)
    assert (repro.parent / "ecgwm-dvc-remote").is_dir()
    sibling = repro.parent / "colleague"
    run(["git", "clone", "-q", str(repro), str(sibling)], repro.parent)
    _dvc(["pull"], sibling)
    out = _dvc(["repro"], sibling).stdout  # only the synthetic tree, which is not cached, is rebuilt
    assert [ln for ln in out.splitlines() if ln.startswith("Running stage")] == ["Running stage 'cohort':"], out
    assert "up to date" in _dvc(["status"], sibling).stdout.lower()
    assert _digest(sibling) == _digest(repro)
