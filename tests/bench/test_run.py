"""bench/run.py's pure helpers: ratios and the hub-against-peers rows."""

from bench.run import peer_ratios, ratio


def test_ratio__of_two_values():
    assert ratio(150.0, 100.0) == 1.5


def test_ratio__missing_or_zero_gives_none():
    assert ratio(None, 100.0) is None
    assert ratio(150.0, None) is None
    assert ratio(150.0, 0) is None


def test_peer_ratios__hub_value_then_its_ratio_to_each_peer():
    hub = {"last_ms": 150.0, "kib_per_socket": 36.0, "connects_per_sec": 200.0}
    peers = {
        "floor": {"kib_per_socket": 20.0, "connects_per_sec": 2000.0},
        "socket.io": {
            "fanout": {"last_ms": 100.0},
            "kib_per_socket": 24.0,
            "connects_per_sec": 800.0,
        },
    }

    rows = peer_ratios(hub, peers)

    assert rows == [
        ("figure", "hub", "floor", "socket.io"),
        ("fan-out: last delivery (ms)", "150", "-", "1.50x (100)"),
        ("memory per idle socket (KiB)", "36.00", "1.80x (20.00)", "1.50x (24.00)"),
        (
            "connects per second (hub: API token) (/s)",
            "200",
            "0.10x (2,000)",
            "0.25x (800)",
        ),
    ]


def test_peer_ratios__a_figure_the_hub_did_not_measure_is_left_out():
    rows = peer_ratios({"last_ms": 90.0}, {"socket.io": {"fanout": {"last_ms": 90.0}}})

    assert [row[0] for row in rows] == ["figure", "fan-out: last delivery (ms)"]
