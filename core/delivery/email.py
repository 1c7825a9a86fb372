"""Alerts by e-mail: the message (French first, then English; plain text and HTML) and its sending
over SMTP.

Without ``SMTP_HOST`` no e-mail is sent: no e-mail delivery is queued at all (the null backend,
the default of the demo and the tests, as PyPI's own code base has one for its services). With
one, ``SMTP_TLS`` is ``starttls`` (the default, port 587), ``tls`` (implicit TLS, port 465) or
``none`` (a relay on the same host); ``SMTP_USERNAME`` and ``SMTP_PASSWORD`` authenticate, over
TLS only. The server's certificate is checked against the system's CAs, plus ``SMTP_CA_FILE``.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from config.settings import Settings

# What an SMTP answer means for a delivery: 5xx will not change by retrying, the rest may.
PERMANENT_CODES = range(500, 600)


@dataclass(frozen=True)
class Letter:
    """One alert as an e-mail: to whom, its subject and its two bodies."""

    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Sent:
    """What an attempt came to: delivered, or the outcome's name and whether retrying may help."""

    delivered: bool
    outcome: str
    permanent: bool = False
    code: int | None = None


def enabled(settings: Settings) -> bool:
    """Whether e-mail is sent at all (a host is set)."""
    return bool(settings.SMTP_HOST)


def letter(to: str, content: dict[str, Any], link: str) -> Letter:
    """The e-mail of an alert's content (its titles and texts in both languages) and its link."""
    subject = f"{content['title_fr']} / {content['title_en']}"
    text = (f"{content['text_fr']}\n\nVoir l'alerte : {link}\n\n-- English --\n\n{content['text_en']}\n\nSee the alert: {link}\n\n"
            "Message automatique du service dossier ; vos préférences d'alerte sont dans votre espace.\n"
            "An automatic message from the dossier service; your alert preferences are in your workspace.\n")

    def paragraphs(body: str) -> str:
        return "".join(f"<p>{html.escape(line)}</p>" for line in body.split("\n") if line.strip())

    link_html = html.escape(link, quote=True)
    page = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>"
        f'<section lang="fr"><h1>{html.escape(content["title_fr"])}</h1>{paragraphs(content["text_fr"])}'
        f'<p><a href="{link_html}">Voir l\'alerte</a></p></section><hr>'
        f'<section lang="en"><h1>{html.escape(content["title_en"])}</h1>{paragraphs(content["text_en"])}'
        f'<p><a href="{link_html}">See the alert</a></p></section>'
        "<p><small>Message automatique du service dossier. / An automatic message from the dossier service.</small></p>"
        "</body></html>"
    )
    return Letter(to, subject, text, page)


def message(settings: Settings, delivery_id: str, item: Letter, at: Any) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative, and a Message-ID made of the
    delivery's id (the same on every attempt, so that a mail system can drop a second copy)."""
    mail = EmailMessage()
    mail["From"] = settings.SMTP_SENDER
    mail["To"] = item.to
    mail["Subject"] = item.subject
    mail["Date"] = format_datetime(at)
    domain = settings.SMTP_SENDER.rpartition("@")[2] or "dossier.invalid"
    mail["Message-ID"] = f"<{delivery_id}@{domain}>" if delivery_id else make_msgid(domain=domain)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic answer to this
    mail["Content-Language"] = "fr, en"
    mail.set_content(item.text)
    mail.add_alternative(item.html, subtype="html")
    return mail


def send(settings: Settings, mail: EmailMessage) -> Sent:
    """Send ``mail`` over SMTP as the settings say; never raises for what the server does."""
    context = ssl.create_default_context(cafile=settings.SMTP_CA_FILE or None)
    host, port, timeout = settings.SMTP_HOST, settings.SMTP_PORT, settings.SMTP_TIMEOUT
    try:
        if settings.SMTP_TLS == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if settings.SMTP_TLS == "starttls":
                smtp.starttls(context=context)
            if settings.SMTP_USERNAME:
                if settings.SMTP_TLS == "none":
                    return Sent(False, "smtp_auth_needs_tls", permanent=True)
                smtp.login(settings.SMTP_USERNAME, settings.SMTP_PASSWORD)
            refused = smtp.send_message(mail)
        if refused:
            return Sent(False, "smtp_recipient_refused", permanent=True)
        return Sent(True, "smtp_250", code=250)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        permanent = all(code in PERMANENT_CODES for code in codes)
        return Sent(False, f"smtp_{codes[0] if codes else 'refused'}", permanent=permanent, code=codes[0] if codes else None)
    except smtplib.SMTPAuthenticationError as exc:
        return Sent(False, f"smtp_auth_{exc.smtp_code}", code=exc.smtp_code)
    except smtplib.SMTPResponseException as exc:
        return Sent(False, f"smtp_{exc.smtp_code}", permanent=exc.smtp_code in PERMANENT_CODES, code=exc.smtp_code)
    except ssl.SSLError:
        return Sent(False, "smtp_tls_error")
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Sent(False, "smtp_" + type(exc).__name__.lower()[:40])
