"""The study configuration, ``study.yml``: typed, validated before anything runs.

The file is read as plain YAML with limits (:func:`read_yaml`: UTF-8, at most
:data:`MAX_BYTES`, no tags, anchors, aliases or repeated keys) and checked by pydantic
models that reject unknown keys, wrong types and disallowed values. The parameters of
each notebook run are checked against the notebook's own ``parameters`` cell (names
must exist there, values must have the default's type), the kernel must be installed
and the report's source must exist.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

RESERVED_PARAMETERS = ("data_dir", "output_dir", "data_cache")
"""Injected by the runner into every notebook; a study file may not set them."""
REQUIRED_PARAMETERS = ("data_dir", "output_dir")
"""Every notebook's parameters cell declares these; ``data_cache`` (the validated data the
runner cached, read by ``load_study_data(data_dir, cache=data_cache)``; default ``""``:
validate) is optional, a notebook without it validates the data itself."""

_NAME = r"^[a-z][a-z0-9_]*$"


class ConfigError(ValueError):
    """``study.yml`` is malformed; the message names the file and the offending key."""


def _reject_repeated(what: str, names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} names repeated: {repeated}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    dir: Path = Field(description="Folder holding the four files of the data contract (data/README.md).")
    generate_synthetic: bool = Field(
        False, description="Generate the synthetic default data into `dir` when it is missing."
    )
    seed: int = Field(20170601, ge=0, description="Seed of the synthetic generator.")


class ExecutionConfig(_Strict):
    kernel: str = Field(description="Jupyter kernel that papermill starts for every notebook.")
    timeout_seconds: int = Field(600, gt=0, le=86_400, description="Per-cell execution timeout.")
    build_dir: Path = Field(Path("build"), description="Ignored folder for executed notebooks and results.")
    jobs: int = Field(1, ge=1, le=256, description="Notebooks run at once (Dask LocalCluster workers; 1 = in process).")
    scheduler: str | None = Field(None, description="Address of an existing Dask scheduler, e.g. tcp://host:8786.")


class ReportConfig(_Strict):
    """The report's source and output folder, and the optional title-page metadata that
    report.py writes into the report's front matter and title-page block. Absent fields
    are shown as "not stated" (the date as the rendering date)."""

    source: Path = Field(description="The report's main .qmd file.")
    output_dir: Path = Field(Path("reports/_output"), description="Where the rendered report lands.")
    commissioning_body: str | None = Field(None, min_length=1, max_length=300,
                                           description="Who commissioned the evaluation (e.g. the managing authority).")
    evaluator: str | None = Field(None, min_length=1, max_length=300,
                                  description="Who carried it out; becomes the report's author.")
    version: str | None = Field(None, min_length=1, max_length=100, description="The report's version, e.g. '1.0' or 'draft 2'.")
    date: datetime.date | None = Field(None, description="The report's date (YYYY-MM-DD); the rendering date when absent.")
    status: str | None = Field(None, min_length=1, max_length=300,
                               description="What the report is, e.g. 'illustration on synthetic data' or 'final report'.")


class ParameterSet(_Strict):
    name: str = Field(pattern=_NAME)
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _no_reserved(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        taken = sorted(set(parameters) & set(RESERVED_PARAMETERS))
        if taken:
            raise ValueError(f"{taken} are set by the runner and may not appear in study.yml")
        return parameters


class NotebookConfig(_Strict):
    name: str = Field(pattern=_NAME)
    path: Path
    parameter_sets: list[ParameterSet] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sets(self) -> NotebookConfig:
        _reject_repeated("parameter set", [p.name for p in self.parameter_sets])
        return self


class StudyConfig(_Strict):
    title: str
    data: DataConfig
    execution: ExecutionConfig
    report: ReportConfig
    notebooks: list[NotebookConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_notebooks(self) -> StudyConfig:
        _reject_repeated("notebook", [n.name for n in self.notebooks])
        return self

    def runs(self) -> list[tuple[NotebookConfig, ParameterSet]]:
        """The grid: every (notebook, parameter set) pair, in file order."""
        return [(nb, ps) for nb in self.notebooks for ps in nb.parameter_sets]


def run_id(notebook: NotebookConfig, parameter_set: ParameterSet) -> str:
    """Stable identifier of one run, used for folders and result keys."""
    return f"{notebook.name}_{parameter_set.name}"


MAX_BYTES = 1_000_000
"""A study file larger than this is refused (study.yml is a few kilobytes)."""


class _NotPlain(yaml.YAMLError):
    """YAML that parses but is outside what a study file may use."""


class _PlainLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors and aliases (no "billion laughs") and with
    repeated keys an error instead of the last one silently winning."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            mark = self.peek_event().start_mark
            raise _NotPlain(f"line {mark.line + 1}: anchors and aliases (& and *) are not accepted; write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _NotPlain(f"line {key_node.start_mark.line + 1}: key {key!r} appears twice in the same mapping")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    """Plain YAML from ``path`` within the limits above; ``ConfigError`` naming the file
    (and the line) otherwise."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the study file (e.g. study.yml)")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: study file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: {len(raw):,} bytes, more than the {MAX_BYTES:,} a study file may have")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line} is not UTF-8 text (byte 0x{raw[err.start]:02x}); save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader subclass
    except _NotPlain as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML (only plain YAML is accepted, no tags): {err}") from None


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate ``study.yml``; relative paths are resolved against its folder.

    Raises ``ConfigError`` naming the file and every offending key.
    """
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        config = StudyConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    return _resolve_paths(config, path.parent.resolve())


def _resolve_paths(config: StudyConfig, root: Path) -> StudyConfig:
    def resolve(p: Path) -> Path:
        return p if p.is_absolute() else (root / p)

    return config.model_copy(
        update={
            "data": config.data.model_copy(update={"dir": resolve(config.data.dir)}),
            "execution": config.execution.model_copy(update={"build_dir": resolve(config.execution.build_dir)}),
            "report": config.report.model_copy(
                update={"source": resolve(config.report.source), "output_dir": resolve(config.report.output_dir)}
            ),
            "notebooks": [nb.model_copy(update={"path": resolve(nb.path)}) for nb in config.notebooks],
        }
    )


_TYPE_OF_DEFAULT = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict}


def check_notebook_parameters(config: StudyConfig, config_path: str | Path = "study.yml") -> None:
    """Every parameter set must name parameters of the notebook's ``parameters`` cell,
    with values of the default's type (papermill's inference of that cell); the
    notebooks and the report source must be files and the kernel installed."""
    import papermill

    problems = []
    if not config.report.source.is_file():
        problems.append(f"report.source: {config.report.source} is not a file")
    problems += _kernel_problems(config.execution.kernel)
    for nb in config.notebooks:
        if not nb.path.is_file():
            problems.append(f"notebook {nb.name}: {nb.path} {'is a folder' if nb.path.is_dir() else 'does not exist'}")
            continue
        try:
            declared = papermill.inspect_notebook(str(nb.path))
        except Exception as err:  # nbformat and papermill raise many kinds for a file that is not a notebook
            problems.append(f"notebook {nb.name}: {nb.path} cannot be read as a Jupyter notebook ({type(err).__name__})")
            continue
        if not declared:
            problems.append(f"notebook {nb.name}: {nb.path} has no cell tagged 'parameters'")
            continue
        missing_reserved = [r for r in REQUIRED_PARAMETERS if r not in declared]
        if missing_reserved:
            problems.append(f"notebook {nb.name}: its parameters cell lacks {missing_reserved}")
        for ps in nb.parameter_sets:
            for key, value in ps.parameters.items():
                if key not in declared:
                    problems.append(f"{nb.name}.{ps.name}: unknown parameter {key!r} (notebook declares {sorted(declared)})")
                    continue
                type_name = _base_type(declared[key].get("inferred_type_name", ""))
                expected = _TYPE_OF_DEFAULT.get(type_name)
                wrong = expected is not None and (
                    not isinstance(value, expected) or (isinstance(value, bool) and type_name != "bool")
                )
                if wrong:
                    problems.append(
                        f"{nb.name}.{ps.name}: parameter {key!r} should be {type_name}, got {type(value).__name__} {value!r}"
                    )
    if problems:
        raise ConfigError(f"{config_path}: " + "; ".join(problems))


def _kernel_problems(kernel: str) -> list[str]:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        return [f"execution.kernel: no Jupyter kernel named {kernel!r} is installed "
                "(`jupyter kernelspec list` shows them; `make study` installs poli-eval)"]
    return []


def _base_type(inferred: str) -> str:
    """'list[str]' -> 'list'; papermill reports 'None' when the default has no annotation."""
    match = re.match(r"^\s*([A-Za-z]+)", inferred or "")
    return match.group(1).lower() if match else ""
