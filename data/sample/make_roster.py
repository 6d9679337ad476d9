"""Regenerate data/sample/roster.csv: an invented demo roster with deliberate traps (see README.md).

Run from the repository root: `python data/sample/make_roster.py`. Output is deterministic.
The people are invented; their IDs are well-formed (checksummed) but made up.
"""

from __future__ import annotations

from pathlib import Path

from cpi_link.ids import check_char

HEADER = ["身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数", "银行账号"]


def pid(region: str, birth: str, seq: int) -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


def pid_ending_x(region: str, birth: str) -> str:
    for seq in range(1000):
        p = pid(region, birth, seq)
        if p.endswith("X"):
            return p
    raise AssertionError("no X check character found")


def bank(n: int) -> str:
    return f"620000000000{n:07d}"  # invented, not a real card range


def rows() -> list[list[str]]:
    zhang = pid("140105", "19581103", 13)
    bad_sum = pid("140702", "19670422", 31)
    bad_sum = bad_sum[:-1] + ("0" if bad_sum[-1] != "0" else "1")
    return [
        # valid rows: every category of SPEC 5.2, Chinese names, aliases and codes
        [zhang, "张建国", "城市低保", "140105", "城市", "1", bank(1)],
        [pid("140105", "19750618", 22), "李秀英", "城市低保", "140105", "城市", "3", bank(2)],
        [pid("140105", "19490905", 40), "王桂兰", "农村低保", "140105", "农村", "", ""],
        [pid("140202", "19620214", 51), "刘志强", "城市特困", "140213", "城市", "", bank(4)],
        [pid("140303", "19410730", 62), "陈玉梅", "农村特困", "140303", "农村", "", ""],
        [pid("140423", "20140312", 17), "杨小宝", "孤儿", "140423", "农村", "", ""],
        [pid("140524", "20160809", 28), "赵欣怡", "事实无人抚养儿童", "140524", "城市", "", ""],
        [pid("140602", "20121125", 39), "黄子涵", "艾滋病病毒感染儿童", "140602", "城市", "", ""],
        [pid("140702", "19830101", 45), "周立新", "领取失业保险金人员", "140702", "城市", "", bank(9)],
        [pid("140802", "19790507", 56), "吴海燕", "领取失业补助金人员", "140802", "城市", "", bank(10)],
        [pid("140902", "19520919", 67), "徐振华", "优抚对象", "140902", "农村", "", ""],
        [pid("141002", "19681230", 78), "孙丽娟", "低保边缘人口", "141002", "城市", "", bank(12)],
        [pid("141102", "19710402", 89), "马文斌", "城镇低保", "141102", "城镇", "2", bank(13)],
        [pid("140100", "19560716", 91), "朱海涛", "农村低保", "140100", "农村", "", ""],
        [pid("140100", "19500228", 12), "胡春花", "优抚对象", "140100", "城市", "", bank(15)],
        [pid("140202", "19880919", 23), "郭晓东", "urban_dibao", "140213", "urban", "", bank(16)],
        [pid("140303", "19600111", 34), "何美玲", "rural_dibao", "140303", "rural", "2", ""],
        [pid("140423", "19450808", 46), "高建军", "城镇特困", "140423", "城镇", "", ""],
        [pid("140524", "19860627", 57), "林淑芬", "失业保险金", "140524", "城市", "", bank(19)],
        [pid("140602", "19740321", 68), "罗小燕", "低保边缘", "140602", "农村", "", ""],
        [pid("140100", "20150101", 79), "董明", "孤儿", "140100", "城市", "", ""],
        # traps (README.md lists them)
        [bad_sum, "郑国庆", "城市低保", "140702", "城市", "", ""],
        ["1.40105E+17", "梁红霞", "城市低保", "140105", "城市", "", ""],
        [pid_ending_x("140802", "19630915").lower(), "谢文华", "农村低保", "140802", "农村", "", ""],
        ["140902550312041", "宋德明", "农村低保", "140902", "农村", "", ""],
        [zhang, "张建国", "优抚对象", "140105", "城市", "", bank(1)],
        [pid("141002", "19570506", 14), "唐雅琴", "五保户", "141002", "农村", "", ""],
        [pid("141102", "19690813", 25), "", "农村低保", "141102", "农村", "", ""],
        [pid("140105", "19800229", 36), "韩丽", "城市低保", "140105", "城市", "0", ""],
        [pid("140105", "19720914", 47), "冯建平", "城市低保", "149999", "城市", "", ""],
        [pid("610102", "19850317", 58), "蒋卫东", "城市低保", "610102", "城市", "", ""],
    ]


def main() -> None:
    out = Path(__file__).with_name("roster.csv")
    lines = [",".join(HEADER)] + [",".join(r) for r in rows()]
    # UTF-8 with BOM and CRLF, as Excel's "CSV UTF-8" writes it
    out.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    print(f"wrote {out} ({len(lines) - 1} rows)")


if __name__ == "__main__":
    main()
