"""Pictures and documents made from plain data: the pain chart (PNG) and the one-page report for
the person's doctor (PDF).

Pure like the clinical core: no storage, no Telegram. Callers pass words already taken from
content/ and dates already made readable, so a language is only data. The plotting and PDF
libraries are imported when a picture is made, never at start-up.
"""
