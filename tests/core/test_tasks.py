import pytest
from huey import RedisHuey, SqliteHuey

from app.config import load_config
from app.extensions import db as _db
from tasks import huey, shop_task
from tasks.queue import make_huey
from tests import routes


@shop_task()
def insert_probe(label: str, fail: bool = False) -> str:
    _db.session.execute(routes.probe.insert().values(label=label))
    if fail:
        raise RuntimeError("task failed after writing")
    return label


def labels(app):
    with app.app_context():
        return [r.label for r in _db.session.execute(routes.probe.select()).all()]


def test_tests_run_tasks_immediately():
    assert huey.immediate


def test_task_runs_in_its_own_committed_unit_of_work(app, db):
    result = insert_probe("from-task")
    assert result() == "from-task"
    assert labels(app) == ["from-task"]


def test_failing_task_rolls_back_its_writes(app, db):
    from huey.exceptions import TaskException

    result = insert_probe("doomed", fail=True)
    with pytest.raises(TaskException):
        result.get()
    assert labels(app) == []


def test_embedded_default_queue_is_sqlite_in_the_instance_folder(tmp_path):
    queue = make_huey(load_config({"SHOP_INSTANCE_DIR": str(tmp_path)}))
    assert isinstance(queue, SqliteHuey)
    assert queue.storage.filename == str(tmp_path / "huey.db")
    assert not queue.immediate


def test_redis_url_selects_the_redis_queue(tmp_path):
    queue = make_huey(
        load_config({"SHOP_INSTANCE_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/3"})
    )
    assert isinstance(queue, RedisHuey)
