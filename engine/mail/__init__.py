"""Mail mechanics shared by the ``mail`` object, the tracking routes and the mail commands.

- ``compose``: templates -> a mail (text + HTML, headers, Message-ID), built by ``mime``;
  ``htmltext`` the text alternative; ``links`` link rewriting; ``linkparam`` encrypted link
  parameters (standalone, for the website); ``tracking`` signed open/click/unsubscribe links.
- ``senders`` / ``smtp``: where mails go (SMTP, a folder or Maildir of .eml files, captured);
  ``sink`` the ``Effects.mail`` sink: a sender plus its keys.
- ``delivery``: one batch of one mail object, with ``sendlog`` (at most once per journey and
  object) and ``throttle`` (mails per hour across workers).
- ``reactions``: opens, clicks and unsubscribes become events; ``bounces`` ingests bounce
  messages; ``activity`` exports events as CSV.
"""
