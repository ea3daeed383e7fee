"""``pytest -p nllhint`` run in a project of its own: a pytest.ini there makes it the rootdir, so no
pytest.ini, pyproject.toml or conftest.py that something else left in a parent folder (/tmp) is read."""

import subprocess
import sys
import textwrap


def project(tmp_path, test_file: str):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_model.py").write_text(test_file)
    return tmp_path


def test_pytest_plugin_adds_the_hint_to_a_failing_test(tmp_path):
    project(tmp_path, textwrap.dedent("""
        import torch, torch.nn as nn

        def test_training_step():
            criterion = nn.CrossEntropyLoss()
            logits = torch.randn(4, 3)
            labels = torch.tensor([1, 2, 3, 1])
            criterion(logits, labels)

        def test_unrelated_failure():
            assert 1 + 1 == 3
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "nllhint", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "2 failed" in proc.stdout
    assert proc.stdout.count("nllhint NLH101") == 1
    assert "criterion(logits, labels - 1)" in proc.stdout


def test_without_the_plugin_pytest_output_has_no_hint(tmp_path):
    project(tmp_path,
        "import torch, torch.nn as nn\n"
        "def test_step():\n"
        "    nn.CrossEntropyLoss()(torch.randn(4, 3), torch.tensor([1, 2, 3, 1]))\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "1 failed" in proc.stdout
    assert "nllhint" not in proc.stdout
