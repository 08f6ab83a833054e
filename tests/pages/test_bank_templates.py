"""The fake bank / LGPD / link / message pages, the generated logos and the institutions
fixture, checked without the server: templates are rendered straight from the folder."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from klavi_mock.domain.taxid import mask_cnpj, mask_cpf
from klavi_mock.web.pages.bank.logos import initials, logo_svg, normalise_color, text_color_for
from klavi_mock.web.pages.bank.permissions import PERMISSION_LABELS, permission_items

ROOT = Path(__file__).resolve().parents[2]
PAGES_DIR = ROOT / "klavi_mock" / "web" / "pages"
TEMPLATES = PAGES_DIR / "templates"
FIXTURE = ROOT / "fixtures" / "institutions.yaml"

BASE = "http://127.0.0.1:8080"
STATIC_URL = f"{BASE}/assets/static"
ACTION_URL = f"{BASE}/bank/authorise/9f1c2d"
LOGO_URL = f"{BASE}/assets/logos/341.svg"
CPF = "52998224725"
EVIL = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'

PAGES = ("bank_authorise.html", "lgpd.html", "message.html", "link.html", "confirm.html", "result.html")


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]), undefined=StrictUndefined
    )


@pytest.fixture(scope="module")
def fixture_entries() -> list[dict]:
    with FIXTURE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["institutions"]


def institution(name: str = "Itaú", color: str = "#EC7000", code: str = "341") -> dict:
    return {"code": code, "name": name, "color": color, "logo_url": LOGO_URL}


def consent(tax_id_masked: str = mask_cpf(CPF), label: str = "CPF") -> dict:
    return {
        "id": "ac246093-353b-4310-bd9c-c6ce0b278de8",
        "tax_id_masked": tax_id_masked,
        "tax_id_label": label,
        "requested_at": "08/12/2023 09:19",
        "expires_label": "12 meses",
    }


ALL_PERMISSIONS = list(PERMISSION_LABELS)


def context(page: str, **overrides) -> dict:
    base = {"static_url": STATIC_URL, "partner_name": "Crediloja"}
    if page == "bank_authorise.html":
        base |= {
            "institution": institution(),
            "consent": consent(),
            "permissions": permission_items(ALL_PERMISSIONS),
            "action_url": ACTION_URL,
        }
    elif page == "lgpd.html":
        base |= {
            "institution": institution(),
            "consent": consent(),
            "permissions": permission_items(["REGISTRATION_ALL", "ACCOUNTS_ALL"]),
            "action_url": f"{BASE}/lgpd/9f1c2d",
        }
    elif page == "message.html":
        base = {
            "static_url": STATIC_URL,
            "title": "Link expirado ou já utilizado",
            "message": "Este link não é mais válido.",
            "detail": "consent_redirect_expired",
            "tone": "error",
        }
    elif page == "confirm.html":
        base |= {
            "institution": institution(),
            "tax_id_label": "CPF",
            "tax_id_masked": mask_cpf(CPF),
            "permissions": permission_items(["REGISTRATION_ALL", "ACCOUNTS_ALL"]),
            "validity": "12 meses",
            "action_url": f"{BASE}/link/85a3af9f/institution",
            "back_url": ACTION_URL,
            "exit_url": f"{BASE}/lgpd/9f1c2d",
            "tracking_payload": {"institutionCode": "341", "institutionName": "Itaú"},
        }
    elif page == "result.html":
        base |= {
            "success": True,
            "institution": institution(),
            "message": None,
            "detail": None,
            "finish_url": ACTION_URL,
            "more_url": f"{BASE}/lgpd/9f1c2d",
            "list_url": f"{BASE}/link/85a3af9f/institution",
            "tracking_payload": {"institutionCode": "341", "institutionName": "Itaú"},
        }
    elif page == "link.html":
        base |= {
            "link": {
                "id": "85a3af9f-e8ab-4be8-86dd-6138e9f2474c",
                "tax_id_masked": mask_cpf(CPF),
                "expires_at": "08/12/2023 09:49",
            },
            "institutions": [
                {
                    "institutionCode": "341",
                    "name": "Itaú",
                    "logo_url": LOGO_URL,
                    "isOutage": False,
                    "institutionType": 1,
                },
                {
                    "institutionCode": "260",
                    "name": "Nubank",
                    "logo_url": f"{BASE}/assets/logos/260.svg",
                    "isOutage": False,
                    "institutionType": 1,
                },
                {
                    "institutionCode": "746",
                    "name": "Banco Modal",
                    "logo_url": f"{BASE}/assets/logos/746.svg",
                    "isOutage": True,
                    "institutionType": 1,
                },
                {
                    "institutionCode": "389",
                    "name": "Mercantil do Brasil",
                    "logo_url": f"{BASE}/assets/logos/389.svg",
                    "isOutage": False,
                    "institutionType": 2,
                },
            ],
            "action_url": f"{BASE}/link/85a3af9f/institution",
        }
    return base | overrides


class Elements(HTMLParser):
    """Collects start tags as (tag, attrs) so tests can look at forms, inputs and buttons."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    @property
    def plain_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def render(env: Environment, page: str, **overrides) -> str:
    return env.get_template(page).render(**context(page, **overrides))


# ---------------------------------------------------------------- bank page


def test_bank_page_posts_the_decision_and_one_checkbox_per_permission(env):
    html = render(env, "bank_authorise.html")
    doc = Elements(html)
    forms = doc.find("form")
    assert len(forms) == 1
    assert forms[0]["action"] == ACTION_URL and forms[0]["method"].lower() == "post"

    boxes = doc.find("input", type="checkbox", name="permissions")
    assert [b["value"] for b in boxes] == ALL_PERMISSIONS
    assert all("checked" in b for b in boxes)
    for box in boxes:  # every checkbox has a label
        assert doc.find("label", **{"for": box["id"]})

    buttons = doc.find("button", name="decision")
    assert {(b["value"], b["type"]) for b in buttons} == {("approve", "submit"), ("deny", "submit")}
    text = doc.plain_text
    assert "Autorizar" in text and "Recusar" in text
    for label, _ in PERMISSION_LABELS.values():
        assert label in text


def test_bank_page_shows_the_masked_tax_id_and_consent_facts(env):
    html = render(env, "bank_authorise.html")
    text = Elements(html).plain_text
    assert mask_cpf(CPF) in text and CPF not in html
    assert "CPF" in text and "12 meses" in text and "08/12/2023 09:19" in text
    assert "Crediloja" in text and "Itaú" in text
    assert "ac246093-353b-4310-bd9c-c6ce0b278de8" in text


def test_bank_page_for_a_company_shows_the_cnpj(env):
    cnpj = "11222333000181"
    html = render(env, "bank_authorise.html", consent=consent(mask_cnpj(cnpj), "CNPJ"))
    assert mask_cnpj(cnpj) in html and "CNPJ" in html


def test_bank_page_uses_the_brand_colour_with_readable_text(env):
    html = render(env, "bank_authorise.html", institution=institution(name="Nubank", color="#820AD1"))
    assert "--brand: #820AD1" in html and "--on-brand: #FFFFFF" in html
    html = render(env, "bank_authorise.html", institution=institution(name="Banco do Brasil", color="#F8D117"))
    assert "--brand: #F8D117" in html and "--on-brand: #111827" in html


def test_only_some_permissions_can_be_listed(env):
    html = render(env, "bank_authorise.html", permissions=permission_items(["ACCOUNTS_ALL"]))
    boxes = Elements(html).find("input", type="checkbox", name="permissions")
    assert [b["value"] for b in boxes] == ["ACCOUNTS_ALL"]


# ---------------------------------------------------------------- LGPD page


def test_lgpd_page_asks_for_the_second_consent(env):
    html = render(env, "lgpd.html")
    doc = Elements(html)
    form = doc.find("form")
    assert len(form) == 1 and form[0]["action"] == f"{BASE}/lgpd/9f1c2d" and form[0]["method"] == "post"
    buttons = doc.find("button", name="decision")
    assert {b["value"] for b in buttons} == {"accept", "decline"}
    text = doc.plain_text
    assert "Aceitar" in text and "Recusar" in text
    assert "13.709/2018" in text and "LGPD" in text and "Crediloja" in text
    assert "Dados cadastrais" in text and "Dados de contas" in text and "Investimentos" not in text
    assert mask_cpf(CPF) in text
    assert not doc.find("input", type="checkbox")


# ---------------------------------------------------------------- message page


@pytest.mark.parametrize("tone", ["error", "info", "success"])
def test_message_page_tones(env, tone):
    html = render(env, "message.html", tone=tone)
    text = Elements(html).plain_text
    assert "Link expirado ou já utilizado" in text and "Este link não é mais válido." in text
    assert f"tone-{tone}" in html


def test_message_page_detail_and_institution_are_optional(env):
    page = env.get_template("message.html")
    html = page.render(static_url=STATIC_URL, title="Pronto", message="Tudo certo.", tone="success")
    assert "Pronto" in html and "<form" not in html
    html = page.render(
        static_url=STATIC_URL,
        title="Pronto",
        message="Tudo certo.",
        tone="success",
        institution=institution(),
        detail=None,
    )
    assert LOGO_URL in html and "--brand: #EC7000" in html


# ---------------------------------------------------------------- link page


def test_link_page_lists_institutions_as_submit_buttons(env):
    html = render(env, "link.html")
    doc = Elements(html)
    post_forms = doc.find("form", method="post")
    assert len(post_forms) == 1 and post_forms[0]["action"] == f"{BASE}/link/85a3af9f/institution"
    buttons = doc.find("button", name="institutionCode")
    assert [b["value"] for b in buttons] == ["341", "260", "746", "389"]
    outage = [b for b in buttons if "disabled" in b]
    assert [b["value"] for b in outage] == ["746"]
    assert "Instabilidade" in doc.plain_text
    assert mask_cpf(CPF) in doc.plain_text and "08/12/2023 09:49" in doc.plain_text
    # the search works without JavaScript: a GET form with a labelled q field
    search = doc.find("form", method="get")
    assert len(search) == 1
    field = doc.find("input", name="q")[0]
    assert doc.find("label", **{"for": field["id"]})


def test_link_page_without_tax_id(env):
    ctx = context("link.html")
    ctx["link"] = {**ctx["link"], "tax_id_masked": None}
    html = env.get_template("link.html").render(**ctx)
    assert "***" not in html and "None" not in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("nubank", ["260"]),
        ("ITAU", ["341"]),
        ("itaú", ["341"]),
        ("746", ["746"]),
        ("zzz", []),
        ("", None),
    ],
)
def test_link_page_filters_by_query_without_javascript(env, query, expected):
    html = render(env, "link.html", query=query)
    codes = [b["value"] for b in Elements(html).find("button", name="institutionCode")]
    assert codes == (expected if expected is not None else ["341", "260", "746", "389"])
    if expected == []:
        assert "Nenhuma instituição encontrada" in html


def test_link_page_script_is_only_an_enhancement(env):
    html = render(env, "link.html")
    # Served by the mock, never inline: the pages' Content-Security-Policy allows only 'self'.
    assert f'<script src="{STATIC_URL}/link-filter.js" defer></script>' in html
    assert html.count("<script") == 1
    # every other page works with no script at all; an error page that knows no better way
    # back offers the browser's previous page through back.js
    for page in ("bank_authorise.html", "lgpd.html"):
        assert "<script" not in render(env, page)
    assert "<script" not in render(env, "message.html", back_url=f"{BASE}/link")
    assert render(env, "message.html").count("<script") == 1 and "/back.js" in render(env, "message.html")
    assert "<script" not in render(env, "message.html", tone="success")


# ---------------------------------------------------------------- every page


@pytest.mark.parametrize("page", PAGES)
def test_no_external_assets(env, page):
    html = render(env, page)
    assert f"{STATIC_URL}/bank.css" in html
    allowed = {
        STATIC_URL + "/bank.css",
        STATIC_URL + "/link-filter.js",
        STATIC_URL + "/back.js",
        LOGO_URL,
        ACTION_URL,
        f"{BASE}/lgpd/9f1c2d",
        f"{BASE}/link/85a3af9f/institution",
    } | {f"{BASE}/assets/logos/{c}.svg" for c in ("260", "746", "389")}
    rest = html
    for url in sorted(allowed, key=len, reverse=True):
        rest = rest.replace(url, "")
    assert "http" not in rest.lower()
    assert "//" not in re.sub(r"/\*.*?\*/", "", rest, flags=re.S).replace("://", "")
    assert "@import" not in rest and "url(" not in rest
    for tag, attrs in Elements(html).tags:
        for attr in ("src", "href", "action"):
            value = attrs.get(attr)
            if value is not None:
                assert value in allowed or value in ("#conteudo", "#", "?", "", "data:,"), (tag, attr, value)


def test_the_stylesheet_is_self_contained():
    css = (PAGES_DIR / "static" / "bank.css").read_text(encoding="utf-8")
    assert "http" not in css and "@import" not in css and "url(" not in css and "@font-face" not in css
    assert ":focus-visible" in css and "@media" in css


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_portuguese_and_accessible(env, page):
    html = render(env, page)
    doc = Elements(html)
    assert doc.find("html", lang="pt-BR")
    assert doc.find("meta", name="viewport")
    assert len(doc.find("h1")) == 1
    assert doc.find("main")
    for img in doc.find("img"):
        assert "alt" in img
    for button in doc.find("button"):
        assert button.get("type") in ("submit", "button")


@pytest.mark.parametrize("page", PAGES)
def test_malicious_values_are_escaped(env, page):
    evil_institution = institution(name=EVIL, color="red;}</style><script>alert(1)</script>")
    overrides: dict = {"partner_name": EVIL}
    if page in ("bank_authorise.html", "lgpd.html"):
        overrides |= {
            "institution": evil_institution,
            "consent": consent() | {"id": EVIL, "requested_at": EVIL},
            "permissions": [{"code": EVIL, "label": EVIL, "description": EVIL}],
        }
    elif page == "message.html":
        overrides = {"title": EVIL, "message": EVIL, "detail": EVIL, "institution": evil_institution}
    elif page == "confirm.html":
        overrides |= {
            "institution": evil_institution,
            "tax_id_masked": EVIL,
            "permissions": [{"code": EVIL, "label": EVIL, "description": EVIL}],
            "tracking_payload": {"institutionCode": EVIL, "institutionName": EVIL},
        }
    elif page == "result.html":
        overrides |= {
            "institution": evil_institution,
            "success": False,
            "message": EVIL,
            "detail": EVIL,
            "tracking_payload": {"institutionCode": EVIL, "institutionName": EVIL},
        }
    elif page == "link.html":
        ctx = context(page)
        overrides |= {
            "institutions": [dict(ctx["institutions"][0], name=EVIL, institutionCode=EVIL)],
            "query": EVIL,
            "link": ctx["link"] | {"tax_id_masked": EVIL},
        }
    html = render(env, page, **overrides)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html
    assert "red;}" not in html  # an invalid colour never reaches the style attribute
    assert "--brand: #1E2A5A" in html


def test_jinja_contrast_matches_the_logo_contrast(env, fixture_entries):
    template = env.from_string('{% from "_theme.html" import on_color %}{{ on_color(c) }}')
    for entry in fixture_entries:
        color = entry["brandColor"]
        assert template.render(c=color) == text_color_for(color), entry["name"]


# ---------------------------------------------------------------- permissions


def test_permission_labels_cover_the_klavi_groups():
    assert set(PERMISSION_LABELS) == {
        "REGISTRATION_ALL",
        "ACCOUNTS_ALL",
        "CREDIT_CARDS_ALL",
        "CREDIT_OPERATIONS_ALL",
        "INVESTMENTS_ALL",
    }
    for label, description in PERMISSION_LABELS.values():
        assert label and description
    assert permission_items(["ACCOUNTS_ALL", "UNKNOWN"]) == [
        {
            "code": "ACCOUNTS_ALL",
            "label": PERMISSION_LABELS["ACCOUNTS_ALL"][0],
            "description": PERMISSION_LABELS["ACCOUNTS_ALL"][1],
        },
        {"code": "UNKNOWN", "label": "UNKNOWN", "description": ""},
    ]


# ---------------------------------------------------------------- logos

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    "name, color",
    [
        ("Itaú", "#EC7000"),
        ("Banco do Brasil", "#F8D117"),
        ("C6 Bank", "#242424"),
        (EVIL, "not-a-colour"),
        ("A & B <Bank>", "#fff"),
        ("", ""),
    ],
)
def test_logo_is_valid_self_contained_svg(name, color):
    svg = logo_svg(name, color)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 64 64"
    assert root.find(f"{SVG}title").text == name or (name == "" and root.find(f"{SVG}title").text is None)
    rect = root.find(f"{SVG}rect")
    assert rect.get("fill") == normalise_color(color)
    assert root.find(f"{SVG}text").get("fill") in ("#FFFFFF", "#111827")
    assert "href" not in svg and "url(" not in svg and "<script" not in svg
    assert svg.count("http") == 1  # only the xmlns


def test_logo_initials_and_contrast():
    assert initials("Banco do Brasil") == "BB"
    assert initials("Nubank") == "NU"
    assert initials("C6 Bank") == "C6"
    assert initials("XP Investimentos") == "XP"
    assert initials("Itaú") == "ITA"[:2]
    assert initials("Mercado Pago") == "MP"
    assert text_color_for("#820AD1") == "#FFFFFF"
    assert text_color_for("#F8D117") == "#111827"
    assert normalise_color("abc") == "#AABBCC" and normalise_color("javascript:") == "#4B5563"


# ---------------------------------------------------------------- institutions fixture

RESOURCES = [
    "REGISTRATION",
    "ACCOUNTS",
    "CREDIT_CARDS",
    "CREDIT_OPERATIONS:LOANS",
    "CREDIT_OPERATIONS:FINANCINGS",
    "CREDIT_OPERATIONS:UNARRANGED_ACCOUNTS_OVERDRAFT",
    "CREDIT_OPERATIONS:INVOICE_FINANCINGS",
    "INVESTMENTS:BANK_FIXED_INCOMES",
    "INVESTMENTS:CREDIT_FIXED_INCOMES",
    "INVESTMENTS:VARIABLE_INCOMES",
    "INVESTMENTS:TREASURE_TITLES",
    "INVESTMENTS:FUNDS",
]
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
INSTITUTION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "institutionCode",
        "name",
        "avatar",
        "isBeta",
        "isOutage",
        "institutionType",
        "businessType",
        "availableResources",
        "parentOrganizationName",
        "parentOrganizationId",
        "organizationName",
        "organizationId",
        "brandColor",
    ],
    "properties": {
        "institutionCode": {"type": "string", "pattern": r"^\d{3}$"},
        "name": {"type": "string", "minLength": 2},
        "avatar": {"const": "{logo}"},
        "isBeta": {"type": "boolean"},
        "isOutage": {"type": "boolean"},
        "institutionType": {"enum": [1, 2]},
        "businessType": {"enum": ["NATURAL", "LEGAL", "BOTH"]},
        "availableResources": {"type": "array", "items": {"enum": RESOURCES}, "uniqueItems": True},
        "parentOrganizationName": {"type": "string"},
        "parentOrganizationId": {"type": "string", "anyOf": [{"const": ""}, {"pattern": UUID}]},
        "organizationName": {"type": "string", "minLength": 5},
        "organizationId": {"type": "string", "pattern": UUID},
        "brandColor": {"type": "string", "pattern": r"^#[0-9A-Fa-f]{6}$"},
    },
}


def test_fixture_entries_match_the_schema(fixture_entries):
    validator = jsonschema.Draft202012Validator(INSTITUTION_SCHEMA)
    for entry in fixture_entries:
        errors = [e.message for e in validator.iter_errors(entry)]
        assert not errors, (entry.get("institutionCode"), errors)


def test_fixture_coverage(fixture_entries):
    assert len(fixture_entries) >= 24
    codes = [e["institutionCode"] for e in fixture_entries]
    assert len(codes) == len(set(codes))
    by_code = {e["institutionCode"]: e for e in fixture_entries}
    expected = {
        "341": "Ita",
        "260": "Nubank",
        "001": "Banco do Brasil",
        "237": "Bradesco",
        "033": "Santander",
        "104": "CAIXA",
        "077": "Inter",
        "336": "C6",
        "323": "Mercado Pago",
    }
    for code, name in expected.items():
        assert name in by_code[code]["name"], code
    assert by_code["104"]["name"] == "CAIXA"
    assert by_code["341"]["organizationName"] == "Itaú Unibanco S.A."
    assert by_code["260"]["organizationName"] == "Nu Pagamentos S.A. - Instituição de Pagamento"

    type1 = [e for e in fixture_entries if e["institutionType"] == 1]
    type2 = [e for e in fixture_entries if e["institutionType"] == 2]
    assert len(type2) >= 2 and any(e["isBeta"] for e in type2)
    assert all(e["availableResources"] == [] and e["businessType"] == "BOTH" for e in type2)
    assert {e["businessType"] for e in type1} == {"NATURAL", "LEGAL", "BOTH"}
    assert all(e["availableResources"] and "REGISTRATION" in e["availableResources"] for e in type1)
    big_five = {"001", "033", "104", "237", "341"}
    assert all(by_code[c]["availableResources"] == RESOURCES for c in big_five)
    outages = [e["institutionCode"] for e in fixture_entries if e["isOutage"]]
    assert outages and not set(outages) & big_five


def test_fixture_organization_ids_are_stable_uuid5(fixture_entries):
    def oid(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "klavi-mock:organization:" + name))

    for entry in fixture_entries:
        assert entry["organizationId"] == oid(entry["organizationName"])
        parent = entry["parentOrganizationName"]
        assert entry["parentOrganizationId"] == (oid(parent) if parent else "")
    ids = [e["organizationId"] for e in fixture_entries]
    assert len(ids) == len(set(ids))


def test_every_fixture_institution_renders(env, fixture_entries):
    page = env.get_template("bank_authorise.html")
    for entry in fixture_entries:
        html = page.render(
            **context(
                "bank_authorise.html",
                institution=institution(entry["name"], entry["brandColor"], entry["institutionCode"]),
            )
        )
        assert f"--brand: {entry['brandColor']}" in html
        ET.fromstring(logo_svg(entry["name"], entry["brandColor"]))


# ---------------------------------------------------------------- hosted journey additions


def result_context(success: bool = True, **overrides) -> dict:
    base = {
        "static_url": STATIC_URL,
        "partner_name": "Crediloja",
        "success": success,
        "institution": institution(),
        "message": None if success else "O pedido foi recusado na instituição.",
        "detail": None if success else "REJECTED (CUSTOMER_MANUALLY_REJECTED)",
        "finish_url": f"{BASE}/link/finish?v=t&consent_id=c",
        "more_url": f"{BASE}/link/finish?v=t&consent_id=c&action=more",
        "list_url": f"{BASE}/link?v=t",
        "tracking_payload": {"institutionCode": "341", "institutionName": "Itaú"},
        "tracking": {
            "page": "result",
            "events": [{"eventName": "authorise_success", "payload": {"institutionCode": "341"}}],
        },
    }
    return base | overrides


def test_result_page_offers_finish_and_another_account(env):
    doc = Elements(env.get_template("result.html").render(**result_context()))
    links = {a["href"]: a for a in doc.find("a") if a.get("href", "").startswith(BASE)}
    assert set(links) == {f"{BASE}/link/finish?v=t&consent_id=c", f"{BASE}/link/finish?v=t&consent_id=c&action=more"}
    assert links[f"{BASE}/link/finish?v=t&consent_id=c"]["data-track"] == "authorise_success_finish_click"
    assert (
        "Conta conectada" in doc.plain_text
        and "Concluir" in doc.plain_text
        and "Conectar outra conta" in doc.plain_text
    )
    [holder] = doc.find("div", id="klavi-tracking")
    assert holder["data-page"] == "result" and '"authorise_success"' in holder["data-events"]


def test_result_page_after_a_failure_leads_back(env):
    doc = Elements(env.get_template("result.html").render(**result_context(False)))
    assert "Compartilhamento não concluído" in doc.plain_text and "Tentar outra instituição" in doc.plain_text
    assert "Detalhes para o desenvolvedor" in doc.plain_text and "CUSTOMER_MANUALLY_REJECTED" in doc.plain_text
    assert {a["href"] for a in doc.find("a")} >= {f"{BASE}/link?v=t", f"{BASE}/link/finish?v=t&consent_id=c"}


def test_result_page_escapes_and_keeps_the_tracking_json_intact(env):
    evil_events = [{"eventName": "institution_list_search", "payload": {"key": EVIL + "'"}}]
    html = env.get_template("result.html").render(
        **result_context(
            False,
            partner_name=EVIL,
            message=EVIL,
            detail=EVIL,
            institution=institution(name=EVIL),
            tracking={"page": "result", "events": evil_events},
        )
    )
    assert "<script>alert" not in html and "<img src=x" not in html
    [holder] = Elements(html).find("div", id="klavi-tracking")
    import json

    assert json.loads(holder["data-events"]) == evil_events  # the attribute survives a quote in the data


def test_link_page_asks_for_a_tax_id_when_the_link_has_none(env):
    ctx = context("link.html")
    ctx["link"] = {**ctx["link"], "tax_id_masked": None, "needs_tax_id": True}
    html = env.get_template("link.html").render(
        **ctx, tax_error="CPF inválido: confira os números digitados.", tax_value="123"
    )
    doc = Elements(html)
    [field] = doc.find("input", name="taxId")
    assert field["aria-invalid"] == "true" and field["value"] == "123" and doc.find("label", **{"for": field["id"]})
    assert doc.find("button", name="institutionCode") == [] and "link-filter.js" not in html
    assert "CPF inválido" in doc.plain_text


def test_link_page_offers_the_preselected_institution_first(env):
    ctx = context("link.html")
    html = env.get_template("link.html").render(**ctx, preselected=ctx["institutions"][1])
    buttons = Elements(html).find("button", name="institutionCode")
    assert buttons[0]["value"] == "260" and "data-preselected" in buttons[0]
    assert "Continuar com Nubank" in html
