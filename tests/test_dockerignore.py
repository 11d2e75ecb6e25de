"""The build context and the images: no secret, state or cache goes in; the service image
holds only the services.

.dockerignore follows Docker's rules, not git's: a pattern is matched against the whole
path from the context's root (a leading `/` means nothing more), `*` and `?` stop at `/`,
`**` spans any number of folders, a folder's match excludes what is in it, the last
matching line wins and `!` lines re-include. `docker_excludes` implements those rules
(moby's patternmatcher, as BuildKit uses it), so each untracked path the project makes is
checked against the real meaning of the file: everything git ignores (.gitignore) and every
state or artefact path the code writes (found in the code itself, not listed by hand).
"""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
import yaml

from durchstarten.messaging.access import SERVICES

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Pattern:
    """One line of a .dockerignore, compiled."""

    regex: re.Pattern[str]
    exclusion: bool
    """A `!` line: what it matches goes back into the context."""


GO_ESCAPED = ".+()|{}$"
"""What moby escapes: regex syntax that means nothing in a path pattern."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Docker's translation of a cleaned pattern into a regular expression."""
    regex = "^"
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1  # `**/` is `**`
                if i + 1 == len(pattern):
                    regex += ".*"  # `**` at the end: everything
                else:
                    regex += "(.*/)?"  # any number of folders, none included
            else:
                regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "\\":
            i += 1
            regex += re.escape(pattern[i]) if i < len(pattern) else r"\\"
        elif char in GO_ESCAPED:
            regex += "\\" + char
        else:
            regex += char  # `[`, `]` and what is between them work as in a regex
        i += 1
    return re.compile(regex + "$")


def read_dockerignore(text: str) -> list[Pattern]:
    """The patterns as Docker reads them: comments and blanks dropped, paths cleaned."""
    patterns = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = _clean(line)
        if len(cleaned) > 1 and cleaned.startswith("/"):
            cleaned = cleaned[1:]
        patterns.append(Pattern(compile_pattern(cleaned), exclusion))
    return patterns


def _clean(path: str) -> str:
    """Go's filepath.Clean: no `//`, `.` or trailing `/`; `..` folded where it can be."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in {"", "."}:
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        elif part != ".." or not rooted:
            parts.append(part)
    cleaned = "/".join(parts)
    return ("/" + cleaned) if rooted else (cleaned or ".")


def docker_excludes(patterns: list[Pattern], path: str) -> bool:
    """Whether the build context leaves `path` out (MatchesOrParentMatches)."""
    parents = str(PurePosixPath(path).parent).split("/")
    excluded = False
    for pattern in patterns:
        if pattern.exclusion != excluded:
            continue  # an exclusion only matters once excluded, and the other way round
        matched = bool(pattern.regex.match(path))
        if not matched and parents != ["."]:
            matched = any(
                pattern.regex.match("/".join(parents[: i + 1])) for i in range(len(parents))
            )
        if matched:
            excluded = not pattern.exclusion
    return excluded


@pytest.fixture(scope="module")
def dockerignore() -> list[Pattern]:
    return read_dockerignore((REPO / ".dockerignore").read_text())


@pytest.fixture(scope="module")
def sources() -> list[str]:
    """The project's files: tracked ones and new ones not yet committed (not the ignored)."""
    try:
        result = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        # The sources are what git tracks; without git this check would prove nothing.
        pytest.fail(f"the tests run from a git checkout (CI clones one): {error}")
    return result.stdout.splitlines()


# The matcher itself, on Docker's documented examples and the cases that differ from git.
@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "somedir/sub/temporary.txt", False),
        ("*/*/temp*", "somedir/subdir/temporary.txt", True),
        ("temp?", "tempa", True),
        ("temp?", "tempab", False),
        ("**/*.go", "a.go", True),
        ("**/*.go", "pkg/x/a.go", True),
        ("*.pyc", "a.pyc", True),
        ("*.pyc", "pkg/a.pyc", False),  # unlike git: no match below the top
        ("/.env", ".env", True),  # a leading `/` is dropped
        ("./build/", "build/lib/x.py", True),  # cleaned; a folder's match covers its files
        (".stack", ".stack/kafka/broker.log", True),
        (".stack", "deploy/.stack", False),
        ("**/.stack*", "deploy/.stack-bench/state/x", True),
        ("docs/**", "docs/a/b.md", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("[a-c].txt", "b.txt", True),
        (r"\*.txt", "*.txt", True),
        (r"\*.txt", "a.txt", False),
    ],
)
def test_the_matcher_follows_dockers_rules(pattern: str, path: str, excluded: bool) -> None:
    assert docker_excludes(read_dockerignore(pattern), path) is excluded


def test_negation_re_includes_and_the_last_matching_line_wins() -> None:
    patterns = read_dockerignore("*.md\n!README*.md\nREADME-secret.md\n")
    assert docker_excludes(patterns, "notes.md")
    assert not docker_excludes(patterns, "README.md")
    assert docker_excludes(patterns, "README-secret.md")
    folder = read_dockerignore("bench\n!bench/pyproject.toml\n")
    assert docker_excludes(folder, "bench/src/x.py")
    assert not docker_excludes(folder, "bench/pyproject.toml")


# What the project leaves in its working tree.
def gitignore_samples() -> list[str]:
    """Paths each .gitignore line ignores: at the top and, for unanchored ones, deeper."""
    samples = []
    for raw in (REPO / ".gitignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        folder_only = line.endswith("/")
        name = line.strip("/").replace("**", "x").replace("*", "x").replace("?", "x")
        anchored = "/" in line.rstrip("/")
        places = [name] if anchored else [name, f"services/intake/{name}"]
        for place in places:
            samples.append(f"{place}/some-file" if folder_only else place)
    return samples


def _path_root(node: ast.expr, source: Path) -> Path | None:
    """The folder a path expression starts from: REPO, or Path(__file__)...parents[n]."""
    if isinstance(node, ast.Name) and node.id == "REPO":
        return REPO
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
        and "__file__" in ast.unparse(node.value)
    ):
        return source.resolve().parents[node.slice.value]
    return None


def _literal_path(node: ast.BinOp, source: Path) -> str | None:
    """`root / "a" / "b"` as a repository-relative path, when root is the repository's."""
    parts: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.BinOp) and isinstance(current.op, ast.Div):
        if not (isinstance(current.right, ast.Constant) and isinstance(current.right.value, str)):
            return None
        parts.insert(0, current.right.value)
        current = current.left
    root = _path_root(current, source)
    if root is None:
        return None
    try:
        relative = (root / Path(*parts)).resolve().relative_to(REPO)
    except ValueError:
        return None  # outside the repository (a home or temporary folder)
    return relative.as_posix()


def written_paths(sources: list[str]) -> set[str]:
    """Repository paths the code names that git does not track: state and artefacts.

    Found in every Python file of the project: `REPO / "x"` and `Path(__file__)...parents[n] / "x"`
    chains, and string defaults of environment look-ups that start with a dot
    (`os.environ.get("DURCHSTARTEN_STACK_DIR", ".stack")`, relative to the repository).
    """
    files = set(sources)
    folders = {str(PurePosixPath(f).parent) for f in sources} | {
        "/".join(PurePosixPath(f).parts[:i]) for f in sources for i in range(1, 4)
    }
    found: set[str] = set()
    for name in sources:
        if not name.endswith(".py"):
            continue
        source = REPO / name
        if not source.exists():
            continue
        for node in ast.walk(ast.parse(source.read_text(), filename=name)):
            candidate = None
            if isinstance(node, ast.BinOp):
                candidate = _literal_path(node, source)
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in {"os.environ.get", "os.getenv"}
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and node.args[1].value.startswith(".")
            ):
                candidate = PurePosixPath(node.args[1].value).as_posix()
            if candidate and candidate not in files and candidate not in folders:
                found.add(candidate)
    return found


def compose_secret_files() -> set[str]:
    """The files docker-compose.yml reads its secrets from (written by make-secrets.sh)."""
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return {
        PurePosixPath(definition["file"]).as_posix().removeprefix("./")
        for definition in document["secrets"].values()
    }


def test_the_code_scan_finds_the_known_state_folders(sources: list[str]) -> None:
    """Guards the scan: were it to find nothing, the test below would prove nothing."""
    assert {".stack", ".stack-bench", "test-artifacts"} <= written_paths(sources)


# Key and certificate files, wherever a county keeps them (the CA, a broker keystore, a
# provider's client keystore), and secret files: .env variants and the compose secrets.
SECRET_SAMPLES = [
    ".env",
    ".env.production",
    "deploy/.env",
    "prod.env",
    "secrets/kafka-admin",
    "deploy/compose/secrets/extra",
    "ca.pem",
    "deploy/compose/kafka-ca.pem",
    "broker.p12",
    "certs/broker.pfx",
    "deploy/kafka.keystore.jks",
    "tls/broker.key",
    "tls/broker.crt",
    "tls/broker.csr",
    "node_modules/x/index.js",
    "tools/asyncapi/node_modules/x/index.js",
]


def test_everything_untracked_the_project_makes_stays_out_of_the_context(
    dockerignore: list[Pattern], sources: list[str]
) -> None:
    untracked = {
        *gitignore_samples(),
        *written_paths(sources),
        *compose_secret_files(),
        *SECRET_SAMPLES,
    }
    let_in = sorted(path for path in untracked if not docker_excludes(dockerignore, path))
    assert let_in == [], f".dockerignore lets these into the build context: {let_in}"
    for path in written_paths(sources):  # and what is inside those folders
        assert docker_excludes(dockerignore, f"{path}/secrets/kafka-admin"), path


def dockerfile_stages() -> dict[str, list[list[str]]]:
    """Each stage of the Dockerfile (name -> its instructions, as word lists), in order."""
    stages: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].upper() == "FROM":
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else words[1]
            current = [words]
            stages[name] = current
        else:
            current.append(words)
    return stages


def copies(stage: list[list[str]]) -> list[tuple[str | None, list[str], str]]:
    """A stage's COPY instructions: (the stage copied from or None, sources, destination)."""
    result = []
    for words in stage:
        if words[0].upper() != "COPY":
            continue
        origin = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        paths = [w for w in words[1:] if not w.startswith("--")]
        result.append((origin, paths[:-1], paths[-1]))
    return result


def context_sources(stages: dict[str, list[list[str]]], name: str) -> set[str]:
    """Every path of the build context that ends up in stage `name`, through its parents."""
    stage = stages[name]
    sources = {src for origin, paths, _ in copies(stage) if origin is None for src in paths}
    base = stage[0][1]
    if base in stages:
        sources |= context_sources(stages, base)
    for origin, _, _ in copies(stage):
        if origin is not None:
            sources |= context_sources(stages, origin)
    return sources


def test_the_service_image_holds_only_the_services() -> None:
    stages = dockerfile_stages()
    default = list(stages)[-1]  # `docker build .` builds the last stage
    assert stages[default][-1] == ["CMD", '["intake"]']
    sources = context_sources(stages, default)
    manifests = {f for f in sources if f.endswith(("pyproject.toml", "uv.lock"))}
    code = sources - manifests
    expected = {"shared/src"}
    for service in SERVICES:
        expected |= {f"services/{service}/src", f"services/{service}/migrations"}
    assert code == expected  # no tests, docs, bench, simulator or deploy code
    # What the services import of the workspace is all there: they need only the shared
    # library (a dependency on another member would be missing at run time).
    workspace = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["sources"])
    for service in SERVICES:
        manifest = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())
        names = {
            re.split(r"[\s<>=!~\[;]", d, maxsplit=1)[0] for d in manifest["project"]["dependencies"]
        }
        assert names & workspace == {"durchstarten-shared"}, service
    # The runtime stage gets the built tree from the build stage only, never the context.
    assert all(origin is not None for origin, _, _ in copies(stages[default]))
    assert ["USER", "durchstarten"] in stages[default]


def test_the_tools_image_is_what_the_topics_job_runs() -> None:
    stages = dockerfile_stages()
    assert "tools" in stages
    assert stages["tools"][-1] == ["CMD", '["durchstarten_deploy",', '"topics"]']
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert document["services"]["topics"]["build"] == {"context": ".", "target": "tools"}
    code = context_sources(stages, "tools") - {
        f for f in context_sources(stages, "tools") if f.endswith(("pyproject.toml", "uv.lock"))
    }
    assert not any(part in {"tests", "docs", "bench"} for f in code for part in f.split("/"))


def test_nothing_the_images_copy_is_left_out_of_the_context(
    dockerignore: list[Pattern], sources: list[str]
) -> None:
    stages = dockerfile_stages()
    copied = {src for name in stages for src in context_sources(stages, name)}
    for source in copied:
        files = [f for f in sources if f == source or f.startswith(f"{source}/")]
        assert files, f"the Dockerfile copies {source}, which is no file of the project"
        left_out = [f for f in files if docker_excludes(dockerignore, f)]
        assert left_out == [], f"{source}: .dockerignore leaves out {left_out[:5]}"
