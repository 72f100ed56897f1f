"""The Python peer of maintenance-responder, for benches/compare.rs.

The same job written the way most teams would write it for the python3.11 Lambda runtime:
Jinja2 templates (templates/, the same visible content as the responder's maintenance page),
the SSM parameters read with boto3 at cold start (same layout: {prefix}/{lang}/title,
{prefix}/{lang}/message, {prefix}/retry-after, {prefix}/links/status-page, {prefix}/links/contact),
and an ALB target-group response dict. Run under awslambdaric:

    AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT python -m awslambdaric app.handler

It does less than the responder (no content refresh after cold start, no JSON/plain-text
negotiation, no health route, no error pages), which only favours it in the comparison.
"""

import datetime
import email.utils
import os

import boto3
from jinja2 import Environment, FileSystemLoader, select_autoescape

PREFIX = os.environ.get("MAINTENANCE_SSM_PREFIX", "/maintenance/shop")
RETRY_AFTER_SECONDS = 300

DEFAULTS = {
    "en": {
        "title": "We'll be back soon",
        "message": "We're carrying out planned maintenance to improve the service. "
        "Thank you for your patience.",
        "labels": {
            "expected_back": "Expected back",
            "retry_in": "Please try again in about {minutes} minutes.",
            "support_reference": "Support reference",
            "status_page": "Status page",
            "contact": "Contact support",
        },
    },
    "ja": {
        "title": "ただいまメンテナンス中です",
        "message": "サービス向上のため、計画メンテナンスを実施しています。ご不便をおかけして申し訳ございません。",
        "labels": {
            "expected_back": "再開予定",
            "retry_in": "約{minutes}分後に再度お試しください。",
            "support_reference": "お問い合わせ番号",
            "status_page": "ステータスページ",
            "contact": "サポートへのお問い合わせ",
        },
    },
}

templates = Environment(
    loader=FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
    autoescape=select_autoescape(["html"]),
)
ssm = boto3.client("ssm")


def load_content():
    """Reads every parameter under PREFIX once (cold start) over the defaults."""
    texts = {lang: dict(values) for lang, values in DEFAULTS.items()}
    settings = {}
    paginator = ssm.get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=PREFIX, Recursive=True, WithDecryption=True):
        for parameter in page["Parameters"]:
            key = parameter["Name"][len(PREFIX) + 1 :]
            lang, _, field = key.partition("/")
            if lang in texts and field in ("title", "message"):
                texts[lang][field] = parameter["Value"].strip()
            else:
                settings[key] = parameter["Value"].strip()
    return texts, settings


TEXTS, SETTINGS = load_content()


def retry_after():
    """(Retry-After header, expected-back dict or None, minutes) from the retry-after parameter."""
    value = SETTINGS.get("retry-after", "")
    if value.isdigit():
        seconds = int(value)
        return str(seconds), None, max(1, seconds // 60)
    if value:
        try:
            until = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            now = datetime.datetime.now(datetime.timezone.utc)
            seconds = max(60, int((until - now).total_seconds()))
            back = {"iso": until.isoformat(), "display": until.strftime("%Y-%m-%d %H:%M UTC")}
            return email.utils.format_datetime(until, usegmt=True), back, max(1, seconds // 60)
        except ValueError:
            pass
    return str(RETRY_AFTER_SECONDS), None, RETRY_AFTER_SECONDS // 60


def pick_language(headers):
    accept = headers.get("accept-language", "")
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in TEXTS:
            return tag
    return "en"


def handler(event, context):
    multi = "multiValueHeaders" in event
    if multi:
        headers = {k.lower(): v[-1] for k, v in (event.get("multiValueHeaders") or {}).items() if v}
    else:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    lang = pick_language(headers)
    text = TEXTS[lang]
    header_value, expected_back, minutes = retry_after()
    trace_id = headers.get("x-amzn-trace-id", "").removeprefix("Root=") or None
    body = templates.get_template("maintenance.html").render(
        lang=lang,
        accent="#2f5fd0",
        title=text["title"],
        paragraphs=[p for p in text["message"].split("\n\n") if p.strip()],
        labels=text["labels"],
        expected_back=expected_back,
        retry_hint=text["labels"]["retry_in"].format(minutes=minutes),
        status_page=SETTINGS.get("links/status-page"),
        contact=SETTINGS.get("links/contact"),
        trace_id=trace_id,
    )
    response_headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Language": lang,
        "Retry-After": header_value,
    }
    response = {
        "statusCode": 503,
        "statusDescription": "503 Service Unavailable",
        "isBase64Encoded": False,
        "body": body,
    }
    if multi:
        response["multiValueHeaders"] = {k: [v] for k, v in response_headers.items()}
    else:
        response["headers"] = response_headers
    return response
