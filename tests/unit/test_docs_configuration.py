"""The operator guide's configuration table lists exactly the environment variables taskapp reads."""

import dataclasses
import re
from pathlib import Path

import taskapp
from taskapp.config import READERS, Config
from tests.support.served import CONFIG_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(taskapp.__file__).parent
# os.environ["X"], os.environ.get("X"), os.getenv("X"): a variable read outside taskapp.config.
ENVIRONMENT_READ = re.compile(r"""os\.(?:environ(?:\.get)?\(?\[?|getenv\()\s*["']([A-Z][A-Z0-9_]*)["']""")


def documented_variables() -> list[str]:
    """The first column of the table under "## Configuration" in docs/operators.md."""
    guide = (ROOT / "docs" / "operators.md").read_text()
    section = guide.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, flags=re.MULTILINE)


def read_outside_config() -> set[str]:
    """Variables the package reads or sets through os.environ anywhere but taskapp/config.py."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path != PACKAGE / "config.py":
            found.update(ENVIRONMENT_READ.findall(path.read_text()))
    return found


def variables_taskapp_reads() -> set[str]:
    return set(READERS) | read_outside_config()


def test_every_config_field_but_the_embedded_folder_is_read_from_the_environment():
    fields = {field.name for field in dataclasses.fields(Config)} - {"embedded_data_dir"}
    assert set(READERS) == fields


def test_the_scan_finds_the_metrics_folder_the_server_sets_for_its_workers():
    assert "PROMETHEUS_MULTIPROC_DIR" in read_outside_config()


def test_the_configuration_table_lists_every_variable_taskapp_reads_once():
    documented = documented_variables()
    assert len(documented) == len(set(documented)), "a variable is listed twice"
    assert set(documented) == variables_taskapp_reads()


def test_the_tests_keep_every_documented_variable_from_their_child_processes():
    assert set(CONFIG_VARIABLES) == variables_taskapp_reads()
