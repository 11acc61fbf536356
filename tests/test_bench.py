"""The benchmark helpers that build inputs still work with the current generator and readers."""

import pandas as pd

from ecgwm.bench.data import make_tree
from ecgwm.data import mimic


def test_make_tree_writes_a_mimic_tree_of_templates_and_renamed_copies(tmp_path):
    rl = make_tree(tmp_path, n_records=9, n_templates=4, seed=0)
    assert len(rl) == 9 and rl["study_id"].is_unique
    listed = pd.read_csv(tmp_path / "record_list.csv")
    assert list(listed["study_id"]) == list(rl["study_id"])
    for path, study in zip(rl["path"], rl["study_id"]):
        assert (tmp_path / (path + ".dat")).stat().st_size > 0
        assert str(study) in (tmp_path / (path + ".hea")).read_text()
    copy = rl.iloc[-1]
    assert copy["path"] == mimic.record_path(copy["subject_id"], copy["study_id"])
