"""The built-in channel integrations (docs/channels.md): partners' systems that send the service
what happened with a seeker, each message signed per the Standard Webhooks specification.

- ``callcentre``: a call to or from the call centre becomes a contact of channel ``call_centre``;
- ``jobboard``: a response to a job offer becomes a contact of channel ``job_offer_response`` and
  an application in the seeker's activities.

Each is its own plugin (``dossier clients add NAME --scope channel:callcentre``, or
``channel:jobboard``), so a client of one channel cannot write the other's records.
"""
