"""The phrase table: what servers say, per reason of sisimai's taxonomy. Rows are tried in
order, the more specific reasons first (as sisimai's class order does), on what a server said
about one recipient, lower-cased with its whitespace folded; each row notes the MTA families,
providers or RFCs whose wording it comes from."""

from __future__ import annotations

import re

# (reason, pattern): first match wins.
_ROWS: list[tuple[str, str]] = [
    # exim's catch-all for a domain that does not answer (it also says "blacklisted")
    ("hostunknown", r"the account or domain may not exist"),
    # the sender's IP is on a blocklist, however the refusal is worded: Cox (AUP#CDRBL), Spamhaus
    ("blocked", r"blacklist|blocklist|block ?list|\b(?:cd)?rbl\b|dnsbl|spamhaus|spamcop|sorbs"),
    # the recipient's filter refused it and the carrier blanked the address: EZweb, au (KDDI)
    (
        "filtered",
        r"550 : user unknown|recipient preferences|rejected by (?:the )?recipient(?! domain)",
    ),
    # name servers that answered nonsense: postfix "Name service error"
    ("networkerror", r"malformed or unexpected name server reply"),
    # the envelope sender was refused, not the recipient: postfix, sendmail, exim (RFC 3463 X.1.7/8)
    (
        "rejected",
        r"domain of sender address|sender address .{0,40}(?:rejected|does not exist|invalid|unknown)",
    ),
    (
        "rejected",
        r"sender (?:domain )?(?:verify failed|address rejected)|you cannot send e-?mail to yourself",
    ),
    # SPF/DKIM/DMARC refusals: Gmail, Outlook, Yahoo, DragonFly relaying Gmail (RFC 7372 codes)
    ("authfailure", r"\bdmarc\b|\bspf\b.{0,40}(?:fail|check|record)|sender policy framework"),
    ("authfailure", r"dkim.{0,30}(?:fail|invalid|did not pass)|unauthenticated email"),
    ("authfailure", r"not authenticated.{0,40}(?:dkim|spf)|(?:dkim|spf).{0,60}not authenticated"),
    # reverse DNS missing: exim, postfix, Gmail, Outlook
    ("requireptr", r"reverse (?:dns|lookup|hostname)|\bptr\b|no (?:rdns|reverse)"),
    ("requireptr", r"cannot find your hostname|client host .{0,80}rejected: cannot find"),
    ("requireptr", r"ip name (?:lookup|possibly forged)|(?:without|no) (?:a )?dns name"),
    ("requireptr", r"does not have a valid rdns|unresolvable ip|not resolve.{0,20}ip"),
    # mailbox full: sendmail, postfix, exim, qmail, courier, Exchange, Yahoo, Gmail (RFC 3463 X.2.2)
    ("mailboxfull", r"mailbox (?:is )?full|(?:quota|storage|disk).{0,40}(?:exceed|full|limit)"),
    ("mailboxfull", r"over (?:the )?(?:allowed )?quota|exceeded (?:the )?(?:storage|quota)"),
    (
        "mailboxfull",
        r"out of (?:mailbox |disk )?space|insufficient (?:disk|system) (?:space|storage)",
    ),
    (
        "mailboxfull",
        r"(?:account|mailbox|inbox) (?:is )?(?:over|exceeds|has exceeded)|full mailbox",
    ),
    ("mailboxfull", r"mail ?box.{0,30}(?:full|quota)|too many messages in (?:this|the) mailbox"),
    ("mailboxfull", r"user has (?:too many messages|exceeded|no space)|mailfolder is full"),
    # sisimai's MailboxFull phrases (docomo, 163.com, qmail, courier)
    (
        "mailboxfull",
        r"insufficient disk space|exceeded storage allocation|exceeds allowed size|mailbox size limit",
    ),
    (
        "mailboxfull",
        r"maximum allowed storage|no space left on device|quota violation|too much mail data",
    ),
    (
        "mailboxfull",
        r"space has been used up|too many messages on the server|boite du destinataire pleine",
    ),
    # message too big: postfix, exim, Gmail, Yahoo (RFC 3463 X.3.4)
    ("mesgtoobig", r"(?:message|mail) (?:size|file) (?:too (?:big|large)|exceeds)|too large"),
    ("mesgtoobig", r"exceeds? (?:the )?(?:maximum|max|fixed|size)|size limit"),
    # account disabled or suspended: Gmail, Yahoo, Mail.ru, EZweb, qmail, Outlook
    ("suspend", r"(?:account|mailbox|user|address) (?:is |has been )?(?:disabled|suspended)"),
    ("suspend", r"(?:disabled|suspended|inactive|deactivated|frozen) (?:account|mailbox|user)"),
    ("suspend", r"account (?:is )?(?:inactive|locked|blocked by|unavailable|expired)"),
    ("suspend", r"mailbox (?:is )?(?:inactive|locked|not active)|temporarily disabled"),
    # sisimai's Suspend phrases (Gmail, QQ, 163.com, La Poste, vpopmail)
    (
        "suspend",
        r"(?:is currently|has been|temporarily) suspended|inactive account|invalid/inactive user",
    ),
    (
        "suspend",
        r"deactivated mailbox|user is terminated|mailbox (?:is )?(?:currently suspended|disabled|frozen)",
    ),
    (
        "suspend",
        r"mailbox unavailable or access denied|temporarily inactive|disabled or discontinued",
    ),
    (
        "suspend",
        r"address no longer accepts mail|user or domain is disabled|user suspended|account is locked",
    ),
    ("suspend", r"archived recipient|boite du destinataire archivee"),
    (
        "suspend",
        r"recipient (?:is )?(?:suspended|inactive)|this account is not active|disabled recipient",
    ),
    (
        "suspend",
        r"account .{0,40} is disabled|temporar(?:y|ily) locked|account (?:is )?(?:temporarily )?unavailable",
    ),
    # the address moved: sendmail "User has moved", RFC 3463 X.1.6
    ("hasmoved", r"(?:has|have) moved|address (?:has )?changed|no longer (?:valid|in use)"),
    ("hasmoved", r"\bmoved (?:to|permanently)\b"),
    # not our relay: sendmail, postfix, Exchange (RFC 3463 X.7.1 relaying)
    ("norelaying", r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed))|not relay"),
    ("norelaying", r"unable to relay|we do not relay|relay not permitted|no relaying"),
    # a host or domain that takes no mail at all (sendmail, iCloud, Yahoo): before "host not found"
    (
        "notaccept",
        r"name server: \.: host not found|(?:host|host/domain) does not accept mail|mail receiving disabled",
    ),
    (
        "notaccept",
        r"no mx record found for domain|no route for current request|smtp protocol returned a permanent error",
    ),
    # the domain does not exist: sendmail, postfix, exim, OpenSMTPD, DragonFly (RFC 3463 X.1.2)
    (
        "hostunknown",
        r"host (?:\S+ )?(?:was )?(?:unknown|not found)|unknown host|domain (?:does not exist|not found|unknown|doesn't exist)",
    ),
    (
        "hostunknown",
        r"name or service not known|no such (?:domain|host)|unrouteable (?:mail )?domain",
    ),
    (
        "hostunknown",
        r"domain is not reachable|nxdomain|unknown domain|invalid domain|domain (?:name )?(?:is )?(?:invalid|not exist)",
    ),
    (
        "hostunknown",
        r"host or domain name not found|all relevant mx records point to non-existent hosts",
    ),
    ("hostunknown", r"mx (?:records? )?(?:not found|points? to)|dns (?:error|lookup fail)"),
    (
        "hostunknown",
        r"domain must exist|host unreachable|mail domain mentioned in email address is unknown",
    ),
    (
        "hostunknown",
        r"unknown domain name|the account or domain may not exist|unroute?able address",
    ),
    # the recipient does not exist: every MTA family, RFC 3463 X.1.1
    ("userunknown", r"user (?:unknown|not found|doesn't exist|does not exist|not exist)"),
    (
        "userunknown",
        r"unknown (?:user|recipient|local part|mailbox|address)|no such (?:user|mailbox|recipient|address|account)",
    ),
    (
        "userunknown",
        r"(?:recipient|mailbox|address|account|addressee) (?:\S+ )?(?:unknown|not found|does not exist|doesn't exist|not exist|unavailable|invalid)",
    ),
    (
        "userunknown",
        r"(?:invalid|bad|unknown) (?:recipient|mailbox|address|destination)",
    ),
    (
        "userunknown",
        r"(?:is not|isn't) a (?:known|valid) (?:user|recipient|mailbox)|not a valid (?:user|recipient|mailbox)",
    ),
    ("userunknown", r"not listed in|no mailbox here|user .{0,60} not (?:exist|found|known)"),
    (
        "userunknown",
        r"does not have an? (?:\S+ )?account|no (?:valid )?(?:recipients?|account|mailbox)",
    ),
    ("userunknown", r"email account that you tried to reach does not exist|resolver\.adr\.recip"),
    ("userunknown", r"undeliverable address|unknown or illegal alias|said: 550 5\.1\.1"),
    ("userunknown", r"mailbox not found|user doesn't have|addressee unknown|invalid mailbox"),
    (
        "userunknown",
        r"invalid (?:final delivery )?userid|recipient address rejected: access denied",
    ),
    ("userunknown", r"recipient address rejected\.?\s*(?:\(|$)|mailbox unavailable"),
    # more of sisimai's UserUnknown phrases (qmail badrcptto/validrcptto, vpopmail, Exchange, French, Spanish, Italian)
    (
        "userunknown",
        r"address unknown|address not present in directory|can't accept user|destination addresses were unknown",
    ),
    (
        "userunknown",
        r"email address could not be found|mailbox invalid|mailbox not present|no account by that name",
    ),
    (
        "userunknown",
        r"no mail ?box (?:available for this user|by that name|found|here by that name)|no such person",
    ),
    (
        "userunknown",
        r"there is no one at this address|not a valid (?:recipient|user)|not a local address",
    ),
    (
        "userunknown",
        r"recipient (?:is not (?:accepted|local)|not ok|refuses to accept your mail)|badrcptto|validrcptto",
    ),
    (
        "userunknown",
        r"email name is not found|wrong or no longer valid|user missing home directory|user not (?:active|known)",
    ),
    (
        "userunknown",
        r"utilisateur inconnu|no existe (?:dicha persona|ese usuario)|nessun utente simile|unknown virtual user",
    ),
    (
        "userunknown",
        r"unknown e-?mail address|unknown local[- ]?part|non-?existent user|(?:recipient|user|mailbox) \S+ was not found in|does not exist at the organi[sz]ation",
    ),
    (
        "userunknown",
        r"envelope recipient has been denied|not in my list of allowed rcpthosts|invalid address\b",
    ),
    # filtered by the recipient's own rules: qmail, Japanese carriers, sendmail
    ("filtered", r"\bfiltered\b|rejected by (?:the )?recipient|refused by (?:the )?recipient"),
    ("filtered", r"delivery (?:not authorized|restricted)|only accepts? mail from|not accept mail"),
    (
        "filtered",
        r"account is protected by|is not accepting any mail|message filtered|rejected due to user rules",
    ),
    (
        "filtered",
        r"refuse to receive|only accepting mail from specific|user reject|blocked by the recipient",
    ),
    # a null MX or a domain that takes no mail: RFC 7505, OpenSMTPD, Mail.ru
    (
        "notaccept",
        r"no mx (?:record|found)|no smtp service|not accepting (?:network )?messages|null mx|does not accept mail|not accept(?:ing)? (?:any )?(?:e-?)?mail",
    ),
    ("notaccept", r"domain (?:does not|doesn't) (?:receive|accept)|no mail (?:service|server)"),
    # spam content: Gmail, Outlook, Yahoo, Mail.ru, MessageLabs, amavis
    (
        "spamdetected",
        r"\bspam\b|junk mail|unsolicited|bulk mail|content.{0,20}(?:rejected|refused)",
    ),
    ("spamdetected", r"message (?:was |is )?(?:classified|considered|identified) as|suspicious"),
    # sender blocked by IP or reputation: Outlook (S3140), Gmail, Yahoo, AOL, spamhaus lists
    ("blocked", r"blacklist|blocklist|block ?list|\brbl\b|dnsbl|spamhaus|spamcop|sorbs"),
    (
        "blocked",
        r"(?:ip|host|address|client|sender|domain).{0,40}(?:blocked|banned|listed|blacklisted)",
    ),
    (
        "blocked",
        r"(?:blocked|banned|rejected) (?:due to|because of|for) .{0,40}(?:reputation|ip|policy)",
    ),
    (
        "blocked",
        r"poor reputation|bad reputation|access denied|connection refused|not allowed to send",
    ),
    (
        "blocked",
        r"use the smtp server of your isp|dial-?up|dynamic ip|residential|service unavailable",
    ),
    # policy: Gmail, Outlook, Google Groups, Yahoo (RFC 3463 X.7.x)
    ("policyviolation", r"policy|not permitted|prohibited|not (?:allowed|authorized) to"),
    # rate limits and too many connections: Gmail, Yahoo, Outlook (RFC 3463 X.4.x)
    ("toomanyconn", r"too many (?:connections|concurrent|smtp sessions)|connection limit"),
    ("ratelimited", r"rate limit|too many (?:messages|mails|recipients)|try again later|throttl"),
    # the mail could not be delivered in time: sendmail, postfix, exim, qmail (RFC 3463 X.4.7)
    ("expired", r"(?:delivery|message) (?:time ?out|expired)|retry (?:time|timeout)|timed? out"),
    (
        "expired",
        r"could not be delivered (?:within|for)|has not been delivered for|too long in (?:the )?queue",
    ),
    ("expired", r"delayed|deferred|not yet been delivered|will (?:continue|keep) (?:to )?try"),
    # the recipient's system failed: every family
    (
        "systemerror",
        r"system (?:error|config)|internal (?:server )?error|local error|loop|i/o error",
    ),
    (
        "systemerror",
        r"temporary (?:local )?(?:failure|problem)|server (?:error|failure)|misconfigured",
    ),
    (
        "networkerror",
        r"network|connect(?:ion)? (?:to .{0,60})?(?:timed out|failed|reset)|unreachable",
    ),
    ("mesgtoobig", r"message too big"),
    ("contenterror", r"(?:header|content|encoding|mime).{0,30}(?:error|invalid|illegal|malformed)"),
    ("syntaxerror", r"syntax error|command unrecognized|bad sequence|line too long"),
    ("securityerror", r"tls|certificate|authentication required|starttls|virus|malware"),
    (
        "rejected",
        r"sender .{0,40}(?:rejected|denied|refused)|(?:rejected|denied|refused).{0,20}sender",
    ),
    ("rejected", r"mail from|envelope sender|domain of sender|sender address"),
]

PHRASES: list[tuple[str, re.Pattern[str]]] = [(reason, re.compile(p)) for reason, p in _ROWS]
