"""The evidence document as a print-ready HTML page and as a PDF (PDF/A-3b, tagged), French first
with English, from the signed content (``core.evidence.document``): what a person reads and what
a machine reads are made from the same data.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import jinja2
import segno

from core.evidence.document import JSON_NAME, JWS_NAME

KINDS = {
    "application": ("Candidature", "Application"),
    "training": ("Formation", "Training"),
    "interview": ("Entretien d'embauche", "Job interview"),
    "other": ("Autre démarche", "Other step"),
}


OUTCOMES = {
    "pending": ("En attente", "Pending"),
    "no_answer": ("Sans réponse", "No answer"),
    "interview": ("Entretien obtenu", "Interview obtained"),
    "refused": ("Refus", "Refused"),
    "hired": ("Embauche", "Hired"),
    "completed": ("Terminée", "Completed"),
    "abandoned": ("Abandonnée", "Abandoned"),
}


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot load here (its system libraries, Pango, are missing)."""


_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""\
<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>Attestation de recherche active d'emploi – {{ holder }}</title>
<meta name="description" content="Attestation de recherche active d'emploi / evidence of active job search">
<style>
  @page { size: A4; margin: 18mm 16mm 20mm;
          @bottom-center { content: "Code " "{{ code }}" " – page " counter(page) " / " counter(pages);
                           font-size: 8pt; color: #444; } }
  body { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; color: #111; line-height: 1.4; max-width: 180mm; margin: auto; }
  h1 { font-size: 16pt; margin: 0 0 2pt; }
  .en { color: #444; }
  p.subtitle { margin: 0 0 12pt; font-size: 11pt; }
  dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2pt 12pt; margin: 0 0 12pt; }
  dl.facts dt { font-weight: bold; }
  dl.facts dd { margin: 0; }
  table { width: 100%; border-collapse: collapse; margin: 6pt 0 12pt; }
  caption { text-align: left; font-weight: bold; margin-bottom: 4pt; }
  th, td { border-bottom: 0.5pt solid #999; padding: 3pt 4pt; text-align: left; vertical-align: top; }
  th { background: #eee; }
  td.date { white-space: nowrap; }
  section.verify { display: flex; gap: 12pt; align-items: center; border: 0.75pt solid #333; padding: 8pt; break-inside: avoid; }
  section.verify svg { width: 28mm; height: 28mm; flex: none; }
  code { font-size: 11pt; letter-spacing: 1pt; }
  @media screen { body { padding: 16px; } }
</style>
</head>
<body>
<header>
  <h1>Attestation de recherche active d'emploi</h1>
  <p class="subtitle en" lang="en">Evidence of active job search</p>
</header>
<main>
  <dl class="facts">
    <dt>Titulaire <span class="en" lang="en">/ holder</span></dt><dd>{{ holder }}</dd>
    <dt>Période <span class="en" lang="en">/ period</span></dt>
    <dd>du {{ period_from.strftime("%d/%m/%Y") }} au {{ period_to.strftime("%d/%m/%Y") }}
        <span class="en" lang="en">/ from {{ period_from.isoformat() }} to {{ period_to.isoformat() }}</span></dd>
    <dt>Démarches <span class="en" lang="en">/ entries</span></dt><dd>{{ entries|length }}</dd>
    <dt>Délivrée le <span class="en" lang="en">/ issued</span></dt><dd>{{ issued_at.strftime("%d/%m/%Y %H:%M") }} UTC</dd>
    <dt>Émetteur <span class="en" lang="en">/ issuer</span></dt><dd>{{ issuer }}</dd>
  </dl>
  <table>
    <caption>Démarches retenues par le titulaire <span class="en" lang="en">/ entries chosen by the holder</span></caption>
    <thead><tr><th scope="col">Date</th><th scope="col">Type <span class="en" lang="en">/ kind</span></th>
      <th scope="col">Employeur, organisme <span class="en" lang="en">/ employer, organisation</span></th>
      <th scope="col">Description</th><th scope="col">Suite <span class="en" lang="en">/ outcome</span></th></tr></thead>
    <tbody>
    {% for entry in entries %}
      <tr><td class="date">{{ entry.occurred_at.strftime("%d/%m/%Y") }}</td>
        <td>{{ kinds[entry.kind][0] }} <span class="en" lang="en">/ {{ kinds[entry.kind][1] }}</span></td>
        <td>{{ entry.organisation or "—" }}</td><td>{{ entry.description }}</td>
        <td>{% if entry.outcome %}{{ outcomes[entry.outcome][0] }}
          <span class="en" lang="en">/ {{ outcomes[entry.outcome][1] }}</span>{% else %}—{% endif %}</td></tr>
    {% else %}
      <tr><td colspan="5">Aucune démarche retenue pour cette période
        <span class="en" lang="en">/ no entry chosen for this period</span></td></tr>
    {% endfor %}
    </tbody>
  </table>
</main>
<footer>
  <section class="verify" aria-label="Vérification / verification">
    {{ qr|safe }}
    <div>
      <p>Code de vérification <span class="en" lang="en">/ verification code</span> : <code>{{ code }}</code></p>
      <p>Ce document est signé (Ed25519, clé <code>{{ kid }}</code> publiée sur {{ issuer }}/.well-known/jwks.json).
        Pour vérifier qu'il est authentique et inchangé, déposez-le sur {{ issuer }}/api/v1/evidence/verifications
        ou consultez {{ verify_url }}.</p>
      <p class="en" lang="en">This document is signed (Ed25519, key <code>{{ kid }}</code> published at
        {{ issuer }}/.well-known/jwks.json). To check that it is authentic and unaltered, submit it to
        {{ issuer }}/api/v1/evidence/verifications or look up {{ verify_url }}.</p>
    </div>
  </section>
</footer>
<script type="application/json" id="evidence-json">{{ content_json|safe }}</script>
<script type="application/jose" id="evidence-jws">{{ signed }}</script>
</body>
</html>
""")


def verify_url(issuer: str, code: str) -> str:
    return f"{issuer.rstrip('/')}/api/v1/evidence/{code}"


def html(content: dict[str, Any], signed: str, kid: str) -> bytes:
    """The print-ready page, carrying the signed content and the same JSON in clear."""
    from core.evidence.document import Entry

    entries = [Entry(e["id"], e["kind"], datetime.fromisoformat(e["occurred_at"]), e["description"], e.get("organisation"),
                     e.get("outcome")) for e in content["entries"]]
    url = verify_url(content["issuer"], content["code"])
    qr = segno.make(url, error="m").svg_inline(scale=4, title="QR : " + url)
    page = _TEMPLATE.render(
        holder=content["holder"]["name"], code=content["code"], issuer=content["issuer"].rstrip("/"), kid=kid,
        issued_at=datetime.fromisoformat(content["issued_at"]), period_from=date.fromisoformat(content["period"]["from"]),
        period_to=date.fromisoformat(content["period"]["to"]), entries=entries, kinds=KINDS, outcomes=OUTCOMES, qr=qr,
        verify_url=url,
        # NOTE: "</" cannot end the script element early: JSON allows "<\\/" for "</".
        content_json=json.dumps(content, ensure_ascii=False, sort_keys=True, indent=1).replace("</", "<\\/"), signed=signed,
    )
    return page.encode()


def pdf(page: bytes, content: dict[str, Any], signed: str) -> bytes:
    """The page as PDF/A-3b, tagged for accessibility, with the JSON and its JWS as attached files."""
    try:
        from weasyprint import HTML, Attachment  # its system libraries load only when a PDF is made
    except OSError as exc:
        raise PdfUnavailable(str(exc)) from None
    attachments = [
        Attachment(string=json.dumps(content, ensure_ascii=False, sort_keys=True, indent=1), name=JSON_NAME,
                   description="Entries (JSON) / démarches (JSON)"),
        Attachment(string=signed, name=JWS_NAME, description="JWS (Ed25519) of the entries / des démarches"),
    ]
    result: bytes = HTML(string=page.decode()).write_pdf(pdf_variant="pdf/a-3b", pdf_tags=True, attachments=attachments,
                                                         custom_metadata=True)
    return result
