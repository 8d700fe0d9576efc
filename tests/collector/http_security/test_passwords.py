"""scrypt hashes and the users file: round trip, and every malformed shape refused by line."""

from __future__ import annotations

import pytest

from collector.http_passwords import (
    FORMAT_HINT,
    PasswordFormatError,
    hash_password,
    parse_hash,
    parse_users,
    users_line,
)

FAST_N = 2**10  # unit tests only; the default cost is exercised end to end


def test_a_hash_verifies_its_password_and_no_other() -> None:
    parsed = parse_hash(hash_password("correct horse", n=FAST_N))
    assert parsed.verify(b"correct horse")
    assert not parsed.verify(b"correct horsE")
    assert not parsed.verify(b"")


def test_the_default_cost_is_the_documented_one() -> None:
    assert hash_password("x").startswith("scrypt$32768$8$1$")


def test_two_hashes_of_one_password_differ_by_salt() -> None:
    assert hash_password("same", n=FAST_N) != hash_password("same", n=FAST_N)


def test_the_repr_of_a_hash_hides_salt_and_digest() -> None:
    text = hash_password("pw", n=FAST_N)
    salt_b64, digest_b64 = text.split("$")[4:]
    shown = repr(parse_hash(text))
    assert salt_b64 not in shown and digest_b64 not in shown


def test_users_file_with_comments_and_blank_lines() -> None:
    text = "# who may scrape\n\n" + users_line("prometheus", "a:b c", n=FAST_N) + "\n" + \
        users_line("ops", "other", n=FAST_N) + "\n"
    users = parse_users(text)
    assert sorted(users) == ["ops", "prometheus"]
    assert users["prometheus"].verify(b"a:b c")  # a ':' in the password is fine


GOOD = hash_password("pw", n=FAST_N)
SALT, DIGEST = GOOD.split("$")[4:]


@pytest.mark.parametrize(("text", "message"), [
    ("just-a-word\n", f"line 1: {FORMAT_HINT}"),
    (f"# c\nbad user:{GOOD}\n", f"line 2: {FORMAT_HINT}"),
    ("alice:$2y$10$abcdefghijklmnopqrstuv\n",
     'line 1: unknown hash scheme: the hash must start with "scrypt$" '
     "(bcrypt and other htpasswd hashes are not supported)"),
    ("alice:plaintext-password\n",
     'line 1: unknown hash scheme: the hash must start with "scrypt$" '
     "(bcrypt and other htpasswd hashes are not supported)"),
    (f"alice:scrypt$1024$8$1${SALT}\n", "line 1: a scrypt hash has 6 '$'-separated fields, not 5"),
    (f"alice:scrypt$1000$8$1${SALT}${DIGEST}\n",
     "line 1: scrypt N must be a power of 2 and N*r*p*128 at most 256 MiB"),
    (f"alice:scrypt$1048576$8$1${SALT}${DIGEST}\n",
     "line 1: scrypt N must be a power of 2 and N*r*p*128 at most 256 MiB"),
    (f"alice:scrypt$1024$x$1${SALT}${DIGEST}\n",
     "line 1: scrypt r must be a whole number from 1 to 16777216"),
    (f"alice:scrypt$1024$8$1$!!!${DIGEST}\n", "line 1: the scrypt salt is not valid base64"),
    (f"alice:scrypt$1024$8$1${SALT}$\n", "line 1: the scrypt hash is empty"),
    (f"alice:scrypt$1024$8$1${SALT}$AAAA\n", "line 1: the scrypt hash is shorter than 16 bytes"),
    (f"alice:{GOOD}\nalice:{GOOD}\n", 'line 2: user "alice" appears twice'),
    ("# nobody\n\n", f"no users in the file; {FORMAT_HINT}"),
])
def test_malformed_users_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(PasswordFormatError) as caught:
        parse_users(text)
    assert str(caught.value) == message
    assert "plaintext-password" not in str(caught.value)


@pytest.mark.parametrize(("user", "password", "message"), [
    ("", "pw", "a user name is 1 to 64 characters without spaces or ':'"),
    ("a:b", "pw", "a user name is 1 to 64 characters without spaces or ':'"),
    ("with space", "pw", "a user name is 1 to 64 characters without spaces or ':'"),
    ("prometheus", "", "the password is empty"),
])
def test_users_line_refuses_bad_input(user: str, password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        users_line(user, password, n=FAST_N)
