"""Discounts: a percentage off, and the cap on what one order may save."""

MAX_DISCOUNT = 50.0


def apply_discount(amount, discount):
    return amount * (1 - discount["percent"] / 100)


def cap_discount(discount, subtotal):
    """The discount, its percentage lowered so that it saves at most MAX_DISCOUNT
    on the order's subtotal (before any discount)."""
    saving = subtotal * discount["percent"] / 100
    if saving <= MAX_DISCOUNT:
        return discount
    return {"percent": MAX_DISCOUNT * 100 / subtotal}
