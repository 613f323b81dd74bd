"""Grading on a fleet: one Celery job per submission on RabbitMQ, CPU and GPU queues, workers
that write straight into the gradebook (PostgreSQL when they run on other machines).

- ``jobs``: what a job is and how a worker runs one (the same ``course.grade_one.autograde_one``
  the local pool runs, in the same warm engine), exactly once per receipt and grader version;
  a job names its course by id, and a worker grades only the courses it was started with;
- ``app``: the Celery application (late acks, requeue on a lost worker, durable queues);
- ``dispatch``: the ``celery`` grading backend (``course.backends``): send, then follow the
  gradebook.

The deadline sweep (``course.sweep``) and the commands ``course worker`` and ``course queue``
(``commands.fleet``) sit above this package.
"""
