# The hub of the one-server stack (deploy/compose/compose.yml): hub_config for the course in
# /srv/course, DockerSpawner on the stack's network, GPUs from the placement policy.
import os

from hub_config import apply

c = get_config()  # noqa: F821
env = os.environ
COURSES_ROOT = "/srv/course"  # COURSE_DIR, mounted
# several courses (courses.yml): COURSES names their folders, /srv/course/<id>/course.yml
courses = [name.strip() for name in env.get("COURSES", "").split(",") if name.strip()]
if courses:
    c.CourseHub.course_files = [f"{COURSES_ROOT}/{name}/course.yml" for name in courses]
else:
    c.CourseHub.course_file = env.get("COURSE_FILE") or "/srv/course/course.yml"
c.CourseHub.spawner = "docker"
c.CourseHub.authenticator = env.get("COURSE_HUB_AUTHENTICATOR", "")  # compose.yml requires it
c.CourseHub.simple_password = env.get("COURSE_HUB_PASSWORD", "")
# one course: the exchange runs beside the hub in this container (several: in containers of its
# own, below); users' servers reach it through the proxy
c.CourseHub.exchange_ip = "0.0.0.0"
c.CourseHub.exchange_url = "http://hub:8000/services/exchange/"
if courses:  # the exchange's own containers (two or more), all behind the name `exchange`
    c.CourseHub.exchange_managed = False
    c.CourseHub.exchange_ip = "exchange"
    c.CourseHub.exchange_api_token = env["COURSE_EXCHANGE_API_TOKEN"]
c.CourseHub.home_root = "/home"
# "0,1,2,3,4,5,6,7": this server's GPUs, one user each (users_per_gpu > 1 shares them)
devices = [d for d in env.get("COURSE_GPU_DEVICES", "").split(",") if d.strip()]
if devices:
    c.CourseHub.gpu_devices = {"local": [d.strip() for d in devices]}
    c.CourseHub.users_per_gpu = int(env.get("COURSE_USERS_PER_GPU", "1"))
hub = apply(c)
for course, path in hub.courses():  # the exchange names each formgrader by its folder's name
    if courses and path.parent.name != course.id:
        raise ValueError(f"{path} is course {course.id!r}: its folder in COURSES must be named "
                         f"{course.id} (deploy/README.md, several courses)")
# the hub's own services (exchange, formgrader, dashboard) use the stack's gradebook; JupyterHub
# passes a service only the environment named here. Users' servers never get it. Several
# courses: none of them (each course file names its own gradebook)
for service in c.JupyterHub.services:
    if "command" in service and env.get("COURSE_DB_URL"):
        service.setdefault("environment", {})["COURSE_DB_URL"] = env["COURSE_DB_URL"]
    if "command" in service:  # a formgrader is a Jupyter server: on a busy server it may take
        service.setdefault("timeout", 120)  # over JupyterHub's 30 s, which stops the hub
    if service["name"].startswith("formgrader-"):  # its Autograde sends jobs to the workers
        service["environment"]["COURSE_BROKER_URL"] = env["COURSE_BROKER_URL"]

c.JupyterHub.bind_url = "http://0.0.0.0:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = "http://hub:8081"
if env.get("HUB_PUBLIC_URL"):  # the TLS proxy's address (README "TLS"): Secure cookies
    c.JupyterHub.public_url = env["HUB_PUBLIC_URL"]
c.JupyterHub.db_url = env["COURSE_HUB_DB_URL"]  # PostgreSQL: spawner state (GPU placements)
c.JupyterHub.cookie_secret = bytes.fromhex(env["JUPYTERHUB_COOKIE_SECRET"])
c.ConfigurableHTTPProxy.auth_token = env["CONFIGPROXY_AUTH_TOKEN"]
# users' servers outlive a hub restart (and keep their GPUs: GpuPlacement in spawner state)
c.JupyterHub.cleanup_servers = False
c.DockerSpawner.image = env["COURSE_SINGLEUSER_IMAGE"]
c.DockerSpawner.network_name = env["COURSE_NETWORK"]
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True
c.DockerSpawner.notebook_dir = "/home/jovyan"
c.DockerSpawner.volumes = {"course-home-{username}": "/home/jovyan"}
c.DockerSpawner.name_template = "course-user-{username}"
c.DockerSpawner.mem_limit = env.get("COURSE_USER_MEM_LIMIT", "24G")
c.DockerSpawner.cpu_limit = float(env.get("COURSE_USER_CPU_LIMIT", "2"))
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# users' containers rotate their logs as the stack's services do (compose.yml's x-logging)
_logs = {"log_config": {"type": "json-file", "config": {"max-size": "20m", "max-file": "5"}}}
_placed = c.DockerSpawner.get("extra_host_config")  # hub_config's GPU placement, a callable
if callable(_placed):
    c.DockerSpawner.extra_host_config = lambda spawner: {**_placed(spawner), **_logs}
else:
    c.DockerSpawner.extra_host_config = {**(_placed or {}), **_logs}
