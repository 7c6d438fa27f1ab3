from cart.pricing import line_total, order_total

TEN = {"percent": 10}


def test_line_total_is_price_times_quantity():
    assert line_total({"unit_price": 2.5, "quantity": 4}) == 10.0


def test_order_without_discount():
    assert order_total([{"unit_price": 100.0, "quantity": 1}], {"percent": 0}) == 100.0


def test_ten_percent_off():
    one = [{"unit_price": 100.0, "quantity": 1}]
    assert order_total(one, TEN) == 90.0


def test_discount_is_capped():
    big = [{"unit_price": 100.0, "quantity": 10}]
    assert order_total(big, TEN) == 950.0


def test_discount_applies_once_across_lines():
    # BUG-1289: the discount was applied to each line and again to the sum.
    lines = [{"unit_price": 10.0, "quantity": 1}, {"unit_price": 30.0, "quantity": 3}]
    assert order_total(lines, TEN) == 90.0
