"""A phone number's region, read before the number is pseudonymised: every
``phonenumbers`` use in one place.

The country (and, in the North American plan, the province an area code serves) is a
coarse, non-identifying attribute that routing needs; the number itself is digested at
the door and never kept. So the region is derived here, from the raw value, during
validation (``features.contract.Identifier``), and only the region is stored.
"""

from __future__ import annotations

from features.places import province_code


def phone_region(raw: str) -> str | None:
    """``CA-ON`` for a valid Canadian number whose area code lies in one province, ``CA``
    when it spans several, else the ISO alpha-2 code of the number's country; None when
    the number has no international prefix or is not a valid number."""
    import phonenumbers
    from phonenumbers import geocoder

    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    region = phonenumbers.region_code_for_number(number)
    if region is None:
        return None
    if region == "CA":
        prov = province_code(geocoder.description_for_number(number, "en"))
        return f"CA-{prov}" if prov else "CA"
    return str(region)
