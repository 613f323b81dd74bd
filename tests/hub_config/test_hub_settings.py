"""hub_config.apply: what a course's jupyterhub_config.py ends up with, without starting a hub."""

import runpy
from types import SimpleNamespace

import pytest
from jupyterhub import orm
from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.user import User
from small_courses import REPO, configured, course_text, create_gradebook
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from hub_config.gpu_placement import NoGpuFree, Placement
from hub_config.spawners import GpuPlacement

COURSE = course_text(graders=("gus",))


@pytest.fixture
def course_file(tmp_path):
    path = tmp_path / "course.yml"
    path.write_text(COURSE)
    return path


def test_groups_and_roles_come_from_the_roster(course_file):
    c = configured(course_file)
    assert c.JupyterHub.load_groups == {"nbgrader-dl-test": {"users": ["ada", "ben"]},
                                        "formgrade-dl-test": {"users": ["ina", "gus"]}}
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert roles["nbgrader-dl-test"]["scopes"] == ["access:services!service=exchange",
                                                   "access:services!service=dashboard"]
    assert roles["nbgrader-dl-test"]["groups"] == ["nbgrader-dl-test"]
    assert set(roles["formgrade-dl-test"]["scopes"]) == {
        "access:services!service=exchange", "access:services!service=formgrader-dl-test",
        "access:services!service=dashboard"}
    assert roles["formgrader-dl-test-service"]["services"] == ["formgrader-dl-test"]
    assert set(roles["idle-culler"]["scopes"]) >= {"list:users", "delete:servers"}
    assert c.Authenticator.allowed_users == {"ada", "ben", "ina", "gus"}
    assert "access:services!service=exchange" in c.Spawner.server_token_scopes


def test_services_exchange_formgrader_and_culler(course_file):
    c = configured(course_file, idle_timeout=1800, exchange_port=9001)
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert services["exchange"]["url"] == "http://127.0.0.1:9001"
    assert services["exchange"]["command"][-5:] == ["serve", "--course",
                                                    str(course_file.resolve()), "--ip",
                                                    "127.0.0.1"]
    assert services["exchange"]["environment"]["COURSE_EXCHANGE_STAFF_SERVICES"] == \
        "formgrader-dl-test=dl-test"
    formgrader = services["formgrader-dl-test"]
    assert formgrader["cwd"] == str(course_file.parent.resolve())
    assert formgrader["environment"]["COURSE_FILE"] == str(course_file.resolve())
    assert "--timeout=1800" in services["idle-culler"]["command"]
    unmanaged = configured(course_file, exchange_managed=False, exchange_api_token="t" * 32,
                           formgrader=False, idle_timeout=0, dashboard=False)
    exchange, sync = unmanaged.JupyterHub.services
    assert "command" not in exchange and exchange["api_token"] == "t" * 32
    # the course groups follow the roster both ways; its token touches those groups only
    assert sync["name"] == "roster-sync" and sync["command"][-2:] == [
        "--course", str(course_file.resolve())]
    (role,) = [r for r in c.JupyterHub.load_roles if r["name"] == "roster-sync"]
    assert role["scopes"] == ["groups!group=nbgrader-dl-test", "delete:servers!group=nbgrader-dl-test",
                              "groups!group=formgrade-dl-test",
                              "delete:servers!group=formgrade-dl-test"]


def as_spawner(name: str) -> SimpleNamespace:
    """What Spawner.get_env passes to a callable in Spawner.environment (its user's name)."""
    return SimpleNamespace(user=SimpleNamespace(name=name))


def test_single_user_environment(course_file):
    env = configured(course_file).Spawner.environment
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["COURSE_ID"](as_spawner("ada")) == "dl-test"
    assert env["COURSE_IDS"](as_spawner("ada")) == "dl-test"
    assert env["COURSE_FORMGRADER_SERVICE"](as_spawner("gus")) == "formgrader-dl-test"
    assert env["COURSE_FORMGRADER_SERVICE"](as_spawner("ada")) == ""
    assert env["COURSE_EXCHANGE_URL"] == "http://127.0.0.1:8765/services/exchange/"
    assert env["JUPYTER_CONFIG_PATH"].endswith("hub_config/singleuser")


def test_authenticators_by_name(course_file):
    c = configured(course_file)
    # each login method with the roster check mixed in (hub_config.authenticators)
    assert c.JupyterHub.authenticator_class == (
        "hub_config.authenticators.RosterSharedPasswordAuthenticator")
    assert c.SharedPasswordAuthenticator.user_password == "password-123"
    assert configured(course_file, authenticator="generic-oauth").JupyterHub \
        .authenticator_class == "hub_config.authenticators.RosterGenericOAuthenticator"
    # lti13 needs a platform in the course file (tests/hub_config/test_lti_mapping.py)
    with pytest.raises(ValueError, match="no course file lists an LMS"):
        configured(course_file, authenticator="lti13")
    with pytest.raises(ValueError, match="at least 8 characters"):
        configured(course_file, simple_password="short")


def _spawner(name: str) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(name=name), extra_resource_limits={},
                           node_selector={"pool": "gpu"})


def test_docker_spawner_places_gpus_and_refuses_cleanly(course_file):
    c = configured(course_file, spawner="docker", gpu_devices={"gpu01": ["0", "1"]})
    assert c.JupyterHub.spawner_class == "hub_config.docker_gpu.GpuDockerSpawner"
    host_config = c.DockerSpawner.extra_host_config
    assert callable(host_config)
    (request,) = host_config(_spawner("ada"))["device_requests"]
    assert request == {"driver": "nvidia", "device_ids": ["0"], "capabilities": [["gpu"]]}
    assert host_config(_spawner("ben"))["device_requests"][0]["device_ids"] == ["1"]
    with pytest.raises(NoGpuFree, match="no GPU free for cleo"):
        host_config(_spawner("cleo"))
    c.GpuPlacement.gpu_pool.release("ada")  # the pool the hook places from
    assert host_config(_spawner("cleo"))["device_requests"][0]["device_ids"] == ["0"]
    cpu_only = configured(course_file, spawner="docker")
    assert cpu_only.JupyterHub.spawner_class == "docker"
    assert "extra_host_config" not in cpu_only.DockerSpawner
    assert "gpu_pool" not in cpu_only.GpuPlacement


def test_kube_spawner_gets_node_and_gpu_count(course_file):
    c = configured(course_file, spawner="kube", gpus_per_user=2,
                   gpu_devices={"node-a": ["0", "1"], "node-b": ["0", "1", "2", "3"]})
    assert c.JupyterHub.spawner_class == "hub_config.kube_gpu.GpuKubeSpawner"
    spawner = _spawner("ada")
    c.KubeSpawner.pre_spawn_hook(spawner)
    assert spawner.extra_resource_limits == {"nvidia.com/gpu": "2"}
    assert spawner.node_selector == {"pool": "gpu", "kubernetes.io/hostname": "node-b"}


class LocalGpuSpawner(GpuPlacement, LocalProcessSpawner):
    """What GpuDockerSpawner is to DockerSpawner, on the spawner installed here."""


@pytest.fixture
def hub_db():
    """The hub's database (in memory) with the users ada and ben; it outlives a hub restart."""
    engine = create_engine("sqlite://")
    orm.Base.metadata.create_all(engine)
    db = Session(engine)
    db.add_all([orm.User(name="ada"), orm.User(name="ben")])
    db.commit()
    yield db
    db.close()
    engine.dispose()


def _hub_process(course_file, db) -> tuple[Config, dict[str, User]]:
    """One run of the hub: apply()'s config (with a new GpuPool) and JupyterHub's own users,
    whose spawners JupyterHub builds from the database (calling load_state)."""
    c = configured(course_file, spawner="docker", gpu_devices={"gpu01": ["0", "1"]})
    settings = {"spawner_class": LocalGpuSpawner, "config": c}
    return c, {user.name: User(user, settings) for user in db.query(orm.User)}


def test_gpus_of_running_servers_stay_taken_after_a_hub_restart(course_file, hub_db):
    c, users = _hub_process(course_file, hub_db)
    ada = users["ada"].spawner
    assert c.DockerSpawner.extra_host_config(ada)["device_requests"][0]["device_ids"] == ["0"]
    ada.pid = 4242
    ada.orm_spawner.state = ada.get_state()  # as JupyterHub saves it once the server started
    hub_db.commit()
    assert ada.orm_spawner.state == {"pid": 4242,
                                     "gpu_placement": {"node": "gpu01", "device_ids": ["0"]}}

    c, users = _hub_process(course_file, hub_db)  # restarted: a new, empty pool
    pool = c.GpuPlacement.gpu_pool
    ada = users["ada"].spawner
    assert ada.pid == 4242  # LocalProcessSpawner's own state came back too
    assert pool.holding("ada") == Placement("gpu01", ("0",))
    ben = c.DockerSpawner.extra_host_config(users["ben"].spawner)
    assert ben["device_requests"][0]["device_ids"] == ["1"]  # not ada's device
    with pytest.raises(NoGpuFree, match=r"0 of 2 slots free"):
        pool.place("cleo")

    ada.clear_state()  # as JupyterHub does after the server stopped
    assert pool.holding("ada") is None and pool.free() == {"gpu01": 1}
    ada.orm_spawner.state = ada.get_state()
    hub_db.commit()
    assert "gpu_placement" not in ada.orm_spawner.state
    c, users = _hub_process(course_file, hub_db)
    assert "gpu_placement" not in users["ada"].spawner.get_state()
    assert c.GpuPlacement.gpu_pool.free() == {"gpu01": 2}


def test_a_placement_on_a_gpu_no_longer_configured_is_dropped(course_file, hub_db, caplog):
    c, users = _hub_process(course_file, hub_db)
    orm_spawner = users["ada"].orm_spawners[""]
    orm_spawner.state = {"gpu_placement": {"node": "gpu09", "device_ids": ["0"]}}
    hub_db.commit()
    c, users = _hub_process(course_file, hub_db)
    assert users["ada"].spawner.get_state() == {}  # built all the same, the placement dropped
    assert c.GpuPlacement.gpu_pool.holding("ada") is None
    assert "GPUs of ada not restored" in caplog.text


def test_local_spawner(course_file):
    c = configured(course_file, home_root="/srv/homes")
    assert c.JupyterHub.spawner_class.endswith("SimpleLocalProcessSpawner")
    assert c.SimpleLocalProcessSpawner.home_dir_template == "/srv/homes/{username}"
    assert c.Spawner.cmd[-2:] == ["-m", "jupyterhub.singleuser"]


def test_the_shipped_config_files_load(course_file, monkeypatch):
    monkeypatch.setenv("COURSE_FILE", str(course_file))
    monkeypatch.setenv("COURSE_HUB_PASSWORD", "password-123")
    monkeypatch.delenv("COURSE_HUB_AUTHENTICATOR", raising=False)
    with pytest.raises(ValueError, match="choose how people log in"):  # fails closed
        runpy.run_path(str(REPO / "hub_config" / "jupyterhub_config.py"),
                       init_globals={"get_config": lambda: Config()})
    monkeypatch.setenv("COURSE_HUB_AUTHENTICATOR", "simple")
    c = Config()
    runpy.run_path(str(REPO / "hub_config" / "jupyterhub_config.py"),
                   init_globals={"get_config": lambda: c})
    assert c.JupyterHub.load_groups["nbgrader-dl-test"]["users"] == ["ada", "ben"]
    monkeypatch.setenv("COURSE_ID", "dl-test")
    user = PyFileConfigLoader("nbgrader_config.py", str(REPO / "hub_config" / "singleuser"))
    config = user.load_config()
    assert config.ExchangeFactory.submit == "exchange.client.ExchangeSubmit"
    assert config.CourseDirectory.course_id == "dl-test"
    create_gradebook(course_file.parent)  # the formgrader opens the course's, never makes one
    staff = PyFileConfigLoader("nbgrader_config.py", str(REPO / "hub_config" / "formgrader"))
    config = staff.load_config()
    assert config.CourseDirectory.root == str(course_file.parent.resolve())
    assert config.ExchangeFactory.collect == "exchange.client.ExchangeCollect"


SECOND = course_text("ml-test", title="Machine Learning (test)", instructors=("ivo",),
                     students=("ben", "cleo"), due="2027-01-17 18:00")


@pytest.fixture
def two_courses(course_file, tmp_path):
    second = tmp_path / "ml" / "course.yml"
    second.parent.mkdir()
    second.write_text(SECOND)
    return [course_file, second]


def test_two_courses_get_their_own_groups_roles_and_services(two_courses):
    first, second = two_courses
    c = configured([first, second], service_ports={"dashboard-ml-test": 9300})
    assert c.JupyterHub.load_groups["nbgrader-ml-test"] == {"users": ["ben", "cleo"]}
    assert c.JupyterHub.load_groups["formgrade-dl-test"] == {"users": ["ina", "gus"]}
    assert c.Authenticator.allowed_users == {"ada", "ben", "cleo", "ina", "gus", "ivo"}
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    # the staff of one course reach its formgrader and dashboard, never the other's
    assert set(roles["formgrade-ml-test"]["scopes"]) == {
        "access:services!service=exchange", "access:services!service=formgrader-ml-test",
        "access:services!service=dashboard-ml-test"}
    assert roles["nbgrader-dl-test"]["scopes"] == ["access:services!service=exchange",
                                                   "access:services!service=dashboard-dl-test"]
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"exchange", "formgrader-dl-test", "formgrader-ml-test",
                             "dashboard-dl-test", "dashboard-ml-test", "idle-culler",
                             "roster-sync"}
    assert services["roster-sync"]["command"][-4:] == ["--course", str(first.resolve()),
                                                       "--course", str(second.resolve())]
    exchange = services["exchange"]  # one exchange serves both, each formgrader grades its own
    assert exchange["command"][4:9] == ["serve", "--course", str(first.resolve()), "--course",
                                        str(second.resolve())]
    assert exchange["environment"]["COURSE_EXCHANGE_STAFF_SERVICES"] == \
        "formgrader-dl-test=dl-test,formgrader-ml-test=ml-test"
    assert services["formgrader-ml-test"]["environment"]["COURSE_FILE"] == str(second.resolve())
    assert services["formgrader-ml-test"]["url"] == "http://127.0.0.1:10000"
    assert services["dashboard-ml-test"]["url"] == "http://127.0.0.1:9300"
    assert services["dashboard-dl-test"]["command"][-1] == str(first.resolve())

    env = c.Spawner.environment
    assert env["COURSE_ID"](as_spawner("ben")) == ""  # both: nbgrader lists the courses
    assert env["COURSE_IDS"](as_spawner("ben")) == "dl-test,ml-test"
    assert env["COURSE_ID"](as_spawner("cleo")) == "ml-test"
    assert env["COURSE_FORMGRADER_SERVICE"](as_spawner("ivo")) == "formgrader-ml-test"
    assert env["COURSE_FORMGRADER_SERVICE"](as_spawner("ina")) == "formgrader-dl-test"


def test_two_courses_with_one_id_are_refused(course_file, tmp_path):
    copy = tmp_path / "copy" / "course.yml"
    copy.parent.mkdir()
    copy.write_text(COURSE)
    with pytest.raises(ValueError, match="both course 'dl-test'"):
        configured([course_file, copy])


def test_a_user_of_two_courses_keeps_each_courses_assignments_apart(monkeypatch):
    monkeypatch.setenv("COURSE_IDS", "dl-test,ml-test")
    monkeypatch.setenv("COURSE_ID", "")
    config = PyFileConfigLoader("nbgrader_config.py",
                                str(REPO / "hub_config" / "singleuser")).load_config()
    assert config.Exchange.path_includes_course is True
    assert "course_id" not in config.CourseDirectory
    monkeypatch.setenv("COURSE_IDS", "dl-test")
    monkeypatch.setenv("COURSE_ID", "dl-test")
    config = PyFileConfigLoader("nbgrader_config.py",
                                str(REPO / "hub_config" / "singleuser")).load_config()
    assert "path_includes_course" not in config.Exchange
    assert config.CourseDirectory.course_id == "dl-test"
