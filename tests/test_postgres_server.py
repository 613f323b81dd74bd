"""The throwaway PostgreSQL server fixture works and stays on loopback."""

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

pytestmark = pytest.mark.postgres


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


def test_server_starts(postgres_server, postgres_url):
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "course"
        assert conn.execute(sa.text("SHOW server_encoding")).scalar() == "UTF8"
    engine.dispose()
    assert postgres_url.startswith(f"postgresql+psycopg://course@127.0.0.1:{postgres_server.port}/")


def test_databases_are_distinct_and_isolated(postgres_server):
    url_a, url_b = postgres_server.create_database(), postgres_server.create_database()
    assert url_a != url_b
    a, b = sa.create_engine(url_a), sa.create_engine(url_b)
    Base.metadata.create_all(a)
    assert sa.inspect(a).has_table("note")
    assert not sa.inspect(b).has_table("note")
    a.dispose()
    b.dispose()


def test_row_round_trips_through_sqlalchemy(postgres_url):
    engine = sa.create_engine(postgres_url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Note(text="héllo ✓"))
        s.commit()
    with Session(engine) as s:
        assert s.scalars(sa.select(Note.text)).all() == ["héllo ✓"]
    engine.dispose()


def _listening_addrs(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) in LISTEN state on `port`."""
    addrs = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, hexport = local.split(":")
                if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                    addrs.add(addr)
    return addrs


def test_listens_on_loopback_only(postgres_server):
    with psycopg.connect(
        host="127.0.0.1", port=postgres_server.port, user="course", dbname="postgres"
    ) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
    # And the kernel agrees: only 127.0.0.1 (0100007F in /proc's byte order) is bound.
    assert _listening_addrs(postgres_server.port) == {"0100007F"}
