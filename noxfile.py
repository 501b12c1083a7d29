"""Developer sessions: tests, lint, demo, benchmarks (``nox -s tests``)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]


def _install(session: nox.Session) -> None:
    session.install("-r", "requirements.txt")  # the core and every local plugin, as README and .ci/run install them


@nox.session
def tests(session: nox.Session) -> None:
    """The CI suite (no slow tests); pass extra pytest args after --."""
    _install(session)
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Only the slow tests (demos end to end)."""
    _install(session)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree (core, plugins, tests, examples, benchmarks), as ``.ci/run`` does."""
    session.install("ruff>=0.4")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the core and the plugin packages, as ``.ci/run`` does (paths and settings in pyproject.toml
    [tool.mypy]; the plugins are installed so that their imports resolve)."""
    _install(session)
    session.install("mypy>=1.10")
    session.run("mypy", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: train pix2pix on the synthetic set and write the results page."""
    _install(session)
    session.run("i2i", "run", "pix2pix", "--preset", "demo", *session.posargs)


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Time the reference workloads (fp32 vs bf16 ratios) and the synthetic data generator."""
    _install(session)
    session.run("python", "benchmarks/train_step.py", *session.posargs)
    session.run("python", "benchmarks/synth_speed.py")
    # inference: tiled vs one pass (memory, what tiling changes per norm), batching, weight loading, ONNX parity
    session.run("python", "benchmarks/tiled_inference.py", "memory")
    session.run("python", "benchmarks/tiled_inference.py", "norms")
    session.run("python", "benchmarks/translate_throughput.py")
    session.run("python", "benchmarks/safetensors_load.py")
    session.run("python", "benchmarks/onnx_parity.py")


@nox.session
def learning(session: nox.Session) -> None:
    """Learning on real photographs next to the reference (I2I_REF_JUNYANZ=junyanz checkout), then eval cost."""
    _install(session)
    session.install("scikit-image>=0.21")
    session.run("python", "benchmarks/learning.py", "--seeds", "0,1,2,3,4", "--runs", "reference,exact,demo",
                "--demo-steps", "75", *session.posargs)
    session.run("python", "benchmarks/learning.py", "--runs", "cyclegan")
    session.run("python", "benchmarks/eval_speed.py", "--images", "100")


@nox.session
def gpu(session: nox.Session) -> None:
    """CUDA-marked tests (needs a GPU)."""
    _install(session)
    session.run("pytest", "-m", "cuda", *session.posargs)
