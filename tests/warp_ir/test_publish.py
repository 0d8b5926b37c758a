"""Publishing, up to the network call (a stand-in API records what would be sent)."""

from __future__ import annotations

import pytest

from warp_ir import publish as pub


class FakeApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))

    def upload_large_folder(self, **kw):
        self.calls.append(("upload_large_folder", kw))


def test_publish_small_and_large(small_build, monkeypatch):
    api = FakeApi()
    url = pub.publish(small_build.out_dir, "org/warp-ir", private=True, api=api)
    assert url == "https://huggingface.co/datasets/org/warp-ir"
    assert api.calls[0] == ("create_repo", "org/warp-ir", {"repo_type": "dataset", "private": True, "exist_ok": True})
    assert api.calls[1][0] == "upload_folder" and api.calls[1][1]["repo_type"] == "dataset"
    monkeypatch.setattr(pub, "LARGE_FOLDER_BYTES", 1)
    api = FakeApi()
    pub.publish(small_build.out_dir, "org/warp-ir", api=api)
    assert api.calls[1][0] == "upload_large_folder"


@pytest.mark.parametrize("repo", ["warp-ir", "a/b/c", "org/"])
def test_bad_repo_id(small_build, repo):
    with pytest.raises(pub.PublishError, match="ORG/NAME"):
        pub.publish(small_build.out_dir, repo, api=FakeApi())


def test_not_a_build(tmp_path):
    with pytest.raises(pub.PublishError, match="not a warp-ir build"):
        pub.publish(tmp_path, "org/x", api=FakeApi())
