"""The parts a mail is made of: link rewriting, the text alternative, signed tracking links,
and the validation of a mail object's template."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.mail.htmltext import html_to_text
from engine.mail.links import add_param, add_pixel, rewrite_html, rewrite_text, strip_param
from engine.mail.tracking import InvalidLink, MailRef, TrackingLinks
from engine.model.flow import load_flows

LINKS = TrackingLinks("https://t.shop.example/", b"k" * 32)


def test_add_param_keeps_the_query_as_written_and_the_fragment() -> None:
    url = "https://shop.example/p?a=1&b=x%20y&flag#top"
    assert (
        add_param(url, "sluis", "V-1_") == "https://shop.example/p?a=1&b=x%20y&flag&sluis=V-1_#top"
    )
    assert add_param("https://shop.example", "sluis", "V") == "https://shop.example?sluis=V"
    assert add_param("https://s.example/?sluis=old&a=1", "sluis", "new").endswith("?a=1&sluis=new")


@given(st.text(alphabet="abc=&%20", max_size=20))
def test_strip_param_undoes_add_param(query: str) -> None:
    url = f"https://shop.example/p?{query}" if query else "https://shop.example/p"
    added = add_param(url, "sluis", "VALUE")
    assert "sluis=VALUE" in added
    assert "sluis" not in strip_param(added, "sluis")


def test_rewrite_html_decodes_and_escapes_entities() -> None:
    html = '<a class="x" href="https://s.example/?a=1&amp;b=2">x</a> <a href=\'mailto:a@b\'>m</a>'
    seen = []

    def rewrite(url: str) -> str:
        seen.append(url)
        return url + "&c=3" if url.startswith("https") else url

    assert rewrite_html(html, rewrite) == (
        '<a class="x" href="https://s.example/?a=1&amp;b=2&amp;c=3">x</a> '
        "<a href='mailto:a@b'>m</a>"
    )
    assert seen == ["https://s.example/?a=1&b=2", "mailto:a@b"]


def test_rewrite_text_leaves_trailing_punctuation_out() -> None:
    text = "See https://s.example/a. Or (https://s.example/b), https://s.example/c?x=1!"
    assert rewrite_text(text, lambda u: f"[{u}]") == (
        "See [https://s.example/a]. Or ([https://s.example/b]), [https://s.example/c?x=1]!"
    )


def test_the_pixel_goes_before_the_end_of_the_body() -> None:
    assert add_pixel("<body><p>x</p></BODY></html>", "https://t/o.gif").startswith(
        '<body><p>x</p><img src="https://t/o.gif"'
    )
    assert add_pixel("<p>x</p>", "https://t/o.gif").startswith('<p>x</p><img src="https://t/o.gif"')


def test_html_to_text() -> None:
    html = """<html><head><title>T</title><style>p{}</style></head><body>
    <h1>Welkom</h1><p>Hoi   Ann,<br>kijk <a href="https://shop.example/n">hier</a>.</p>
    <ul><li>een</li><li>twee</li></ul><script>alert(1)</script>
    <p><a href="https://shop.example/x">https://shop.example/x</a> &amp; meer</p></body></html>"""
    assert html_to_text(html) == (
        "Welkom\n\nHoi Ann,\nkijk hier (https://shop.example/n).\n\n- een\n- twee\n\n"
        "https://shop.example/x & meer\n"
    )


def test_tracking_links_verify_their_own_signatures() -> None:
    ref = MailRef(12, "welcome-mail")
    click = LINKS.click_url(ref, "https://shop.example/a?b=1")
    assert click.startswith("https://t.shop.example/t/click/12.welcome-mail.")
    token = click.split("/t/click/")[1].split("?")[0]
    assert LINKS.verify("click", token, "https://shop.example/a?b=1") == ref
    with pytest.raises(InvalidLink, match="signature does not match"):
        LINKS.verify("click", token, "https://evil.example/")
    with pytest.raises(InvalidLink, match="signature does not match"):
        LINKS.verify("open", token)  # a click signature is not an open signature
    with pytest.raises(InvalidLink, match="signature does not match"):
        TrackingLinks("", b"o" * 32).verify("click", token, "https://shop.example/a?b=1")
    with pytest.raises(InvalidLink, match="not a tracking link"):
        LINKS.verify("open", "12.welcome-mail")


def test_click_links_never_lead_outside_http() -> None:
    ref = MailRef(1, "m")
    for url in ("javascript:alert(1)", "data:text/html,x", "//evil.example/", "ftp://x/"):
        token = LINKS.token("click", ref, url)
        with pytest.raises(InvalidLink, match="only to http"):
            LINKS.verify("click", token, url)


def test_a_missing_template_is_a_validation_error(make_project) -> None:
    flow = """\
        objects:
          all: {type: selection, next: hello}
          hello:
            type: mail
            template: welcom.html
            subject: Hi
        """
    project = make_project(flows={"welcome": flow}, templates={"welcome.html": "<p>hi</p>"})
    _flows, problems = load_flows(project)
    [problem] = problems
    assert problem.file.endswith("flows/welcome.yaml") and problem.line == 5
    assert "template 'welcom.html' is not in templates/; add it or fix the name" in problem.message
    assert "hello" in problem.message


def test_a_template_syntax_error_is_a_validation_error(make_project) -> None:
    flow = """\
        objects:
          all: {type: selection, next: hello}
          hello: {type: mail, template: broken.html, subject: Hi}
        """
    project = make_project(flows={"welcome": flow}, templates={"broken.html": "<p>{{ x </p>"})
    _flows, problems = load_flows(project)
    [problem] = problems
    assert "template 'broken.html' line 1: template syntax error:" in problem.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "<p>{{ ''.__class__.__mro__ }}</p>",
            "template 'welcome.html' line 1: template uses '__mro__': names starting with '_' "
            "are internal and not allowed",
        ),
        (
            "<p>\n{{ custmer.first_name }}</p>",
            "template 'welcome.html' line 1: unknown template variable 'custmer'; did you mean "
            "'customer'?",
        ),
    ],
)
def test_body_templates_are_checked_like_every_template(make_project, body, message) -> None:
    flow = """\
        objects:
          all: {type: selection, next: hello}
          hello: {type: mail, template: welcome.html, subject: Hi}
        """
    project = make_project(flows={"welcome": flow}, templates={"welcome.html": body})
    _flows, problems = load_flows(project)
    assert [p.message.split(": ", 1)[1] for p in problems] == [f"'template': {message}"]


def test_the_text_companion_is_checked_too(make_project) -> None:
    flow = """\
        objects:
          all: {type: selection, next: hello}
          hello: {type: mail, template: welcome.html, subject: Hi}
        """
    project = make_project(
        flows={"welcome": flow},
        templates={"welcome.html": "<p>{{ unsubscribe_url }}</p>", "welcome.txt": "{{ x }}"},
    )
    _flows, problems = load_flows(project)
    [problem] = problems
    assert "template 'welcome.txt' line 1: unknown template variable 'x'" in problem.message


@given(
    st.from_regex(
        r"[A-Za-z0-9_+.-]{1,12}@[A-Za-z0-9.-]{1,12}|[A-Za-z0-9_+-]{1,6}(\.[a-z0-9]{1,4}){0,3}"
        r"@[a-z0-9-]{1,8}(\.[a-z]{2,4}){0,2}",
        fullmatch=True,
    )
)
def test_a_plain_address_is_what_parseaddr_finds(text: str) -> None:
    from email.utils import parseaddr

    from engine.mail.delivery import address_of

    assert address_of(text) == parseaddr(text)[1]
    assert address_of(f"Ann <{text}>") == parseaddr(f"Ann <{text}>")[1]
