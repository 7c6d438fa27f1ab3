from cart.discounts import MAX_DISCOUNT, apply_discount, cap_discount


def test_apply_discount():
    assert apply_discount(100.0, {"percent": 10}) == 90.0


def test_no_discount():
    assert apply_discount(80.0, {"percent": 0}) == 80.0


def test_small_discount_is_not_capped():
    assert cap_discount({"percent": 10}, 200.0) == {"percent": 10}


def test_cap_limits_the_saving():
    capped = cap_discount({"percent": 10}, 1000.0)
    assert 1000.0 * capped["percent"] / 100 == MAX_DISCOUNT
