"""Order pricing."""

from cart.discounts import apply_discount, cap_discount


def line_total(line):
    """The price of one line, before any discount."""
    return line["unit_price"] * line["quantity"]


def order_total(lines, discount):
    """The order's total: the discount applies once, to the subtotal."""
    subtotal = sum(line_total(line) for line in lines)
    discounted = apply_discount(subtotal, cap_discount(discount, subtotal))
    return round(discounted, 2)
