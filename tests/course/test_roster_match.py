"""The one matching rule of roster people to LMS accounts (course/roster_match.py), shared by
the LTI launch, the roster pull and the grade push."""

from course.roster_match import Identity, match_people


def test_an_sis_id_match_wins_and_an_email_match_it_contradicts_is_someone_else():
    ada, ben = Identity("ada", sis_id="S-1"), Identity("ben", email="ben@x.org")
    member = Identity("u-ada", sis_id="S-1", email="Ben@X.org")
    matching = match_people([ada, ben], [member])
    assert matching.pairs == {"ada": "u-ada"} and not matching.ambiguous  # ben is not u-ada
    # roster and account both name an sis_id, and they differ: the email says nothing
    eve = Identity("eve", sis_id="S-5", email="eve@x.org")
    assert match_people([eve], [Identity("u-imp", sis_id="S-6", email="eve@x.org")]).pairs == {}
    # one side without an sis_id: the email (without case) matches
    assert match_people([ben], [Identity("u-ben", sis_id="S-2", email="BEN@x.org")]).pairs == \
        {"ben": "u-ben"}


def test_a_person_two_accounts_match_or_an_account_two_people_match_is_used_by_no_one():
    ben = Identity("ben", email="ben@x.org")
    twice = match_people([ben], [Identity("u-1", email="ben@x.org"),
                                 Identity("u-2", sis_id="S-9", email="ben@x.org")])
    assert twice.pairs == {} and twice.ambiguous_people == {"ben"}
    assert twice.ambiguous == ["ben matches 2 LMS accounts (u-1, u-2)"]
    ada, ada_too = Identity("ada", email="a@x.org"), Identity("ada2", email="A@x.org")
    shared = match_people([ada, ada_too, Identity("cleo", sis_id="S-3")],
                          [Identity("u-a", email="a@x.org"), Identity("u-c", sis_id="S-3")])
    assert shared.pairs == {"cleo": "u-c"} and shared.ambiguous_accounts == {"u-a"}
    assert shared.ambiguous == ["the LMS account u-a matches ada and ada2"]


def test_nothing_to_match_by_matches_nothing():
    assert match_people([Identity("ada")], [Identity("u-1")]).pairs == {}
    assert match_people([Identity("ada", email="")], [Identity("u-1", email="")]).pairs == {}
