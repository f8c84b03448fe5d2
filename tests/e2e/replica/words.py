"""Word lists and sentence templates for generated 镇江 local news.

Why templates rather than lorem ipsum: the extractor's credit parser, lead-tag stripping and
near-duplicate detection all read Chinese text, so the replica must read like the real site (a
dateline, districts, projects, officials, numbers) while staying deterministic for a seed. Every
function here takes the ``random.Random`` to draw from; nothing reads the clock.

Slot fillers are many and sentences long enough that two generated bodies share few 4-character
shingles, so unrelated articles never look like near-duplicates (measured in the README).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import lru_cache
from string import Formatter

DISTRICTS = ("京口区", "润州区", "丹徒区", "丹阳市", "句容市", "扬中市", "镇江新区", "镇江高新区")
TOWNS = (
    "宝华镇", "大港街道", "世业镇", "辛丰镇", "上党镇", "宝堰镇", "谷阳镇", "延陵镇", "司徒镇", "珥陵镇",
    "新坝镇", "油坊镇", "八桥镇", "茅山镇", "白兔镇", "天王镇", "下蜀镇", "象山街道", "蒋乔街道",
    "金山街道", "七里甸街道", "韦岗街道", "姚桥镇", "丁岗镇", "高资街道", "荣炳街道",
)
PLACES = (
    "西津渡历史文化街区", "金山湖", "北固山", "焦山", "南山风景区", "茅山", "宝华山", "世业洲",
    "长山", "十里长山", "伯先公园", "梦溪园", "大龙王巷", "镇江博物馆", "镇江站", "南徐大道",
    "长江路", "中山路", "解放路", "学府路", "丁卯桥路", "檀山路", "官塘新城", "扬中滨江公园",
)
PROJECTS = (
    "新能源电池", "智能电网装备", "高性能合金材料", "航空航天零部件", "生物医药", "眼镜产业园",
    "光伏组件", "港口物流", "数字经济产业园", "工业互联网平台", "城市更新", "老旧小区改造",
    "雨污分流", "快速路", "长江大保护", "农田水利", "智慧农业", "冷链物流中心", "算力中心",
    "新材料产业园", "船舶配套", "医疗器械", "集成电路封装", "氢能装备", "文旅综合体",
)
ORGS = (
    "市发改委", "市住建局", "市教育局", "市文广旅局", "市卫健委", "市交通运输局", "市生态环境局",
    "市市场监管局", "市人社局", "市民政局", "市农业农村局", "市城管局", "市公安局", "市消防救援支队",
    "市总工会", "团市委", "市妇联", "市科技局", "市商务局", "市数据局", "市应急管理局", "市供电公司",
)
GROUPS = (
    "老年人", "新市民", "青年人才", "中小学生", "外卖骑手", "企业职工", "残疾人", "退役军人", "农户",
    "个体工商户", "环卫工人", "来镇游客", "困难家庭", "高校毕业生", "社区居民", "货车司机",
)
EVENTS = (
    "专题推进会", "现场观摩会", "工作部署会", "新闻发布会", "座谈会", "签约仪式", "启动仪式",
    "成果展示会", "技能竞赛", "志愿服务活动", "主题宣讲", "安全演练", "招聘会", "开放日",
)
SCHOOLS = (
    "江苏大学", "江苏科技大学", "镇江市第一中学", "镇江中学", "实验学校", "外国语学校", "桃花坞小学",
    "中山路小学", "镇江高专", "京口中等专业学校", "句容市实验高中", "扬中市第二中学",
)
THINGS = (
    "便民服务中心", "口袋公园", "社区食堂", "充电桩", "健身步道", "停车泊位", "公共自行车站点",
    "托育机构", "日间照料中心", "城市书房", "农贸市场", "公交线路", "人行天桥", "污水管网",
)
VERBS_DONE = ("建成投用", "顺利完工", "正式启用", "通过验收", "开工建设", "签约落地", "开门迎客")
SEASONS = ("金秋", "初冬", "国庆", "周末", "重阳", "夜间")
ADJ = ("高质量", "精细化", "全链条", "常态化", "数字化", "绿色低碳", "标准化", "一站式")

TITLE_TEMPLATES = (
    "{district}{n}个{project}项目集中开工",
    "{place}{season}文旅活动启幕",
    "{org}召开{event}",
    "{district}：{adj}服务让{group}办事更省心",
    "{school}举行{event}",
    "{town}{n}处{thing}{done}",
    "我市{project}产业链再添新项目",
    "{district}推进{project}项目建设跑出加速度",
    "{org}出台新举措 {group}可享{n}项便利",
    "{place}周边{thing}{done}",
    "{town}“{adj}”治理见实效",
    "{period}我市{project}产值同比增长{pct}%",
    "{district}{group}家门口就能{benefit}",
    "{org}开展{adj}专项检查",
    "{place}迎来{season}客流高峰",
    "{school}{n}名学子获省级表彰",
)
PERIODS = ("前三季度", "今年以来", "1—9月", "前10个月", "上半年")
BENEFITS = ("看病", "就业", "托育", "养老", "充电", "健身", "办证", "阅读", "买菜", "停车")

SENTENCES = (
    "{date}，{org}在{place}召开{event}，总结前阶段工作，部署下一步任务。",
    "记者从{org}获悉，今年以来，全市累计新建{thing}{n}处，惠及{group}约{big}人次。",
    "该项目总投资{money}亿元，主要建设{project}生产线{n}条，全部达产后可实现年产值{money2}亿元。",
    "{district}相关负责人介绍，项目从签约到开工仅用时{n}天，刷新了当地{project}项目建设纪录。",
    "走进{town}，{thing}干净整洁，不少{group}正在这里休憩、交流。",
    "“以前要跑好几个地方，现在{benefit}一次就能办好。”家住{town}的{person}说。",
    "据统计，{month}月份全市{project}领域完成投资{money}亿元，同比增长{pct}%。",
    "下一步，{org}将坚持{adj}思路，持续推动{project}产业集群发展。",
    "活动现场，{n}家企业与{school}签订合作协议，共建实训基地和研发平台。",
    "{place}管理处负责人表示，{season}期间日均接待游客超{big}人次，较去年同期增长{pct}%。",
    "为保障活动顺利开展，{org}提前制定方案，安排工作人员{n}名在现场维持秩序。",
    "近年来，{district}聚焦{group}急难愁盼问题，把{thing}建在群众家门口。",
    "会议要求，各地各部门要压紧压实责任，确保{project}项目按时序推进、早日见效。",
    "{person}是{town}的一名{job}，从业{years}年来，始终坚守在一线岗位。",
    "截至{month}月底，{district}已累计完成{thing}改造{n}个，超额完成年度目标任务。",
    "此次{event}吸引了{big}余名{group}参加，现场气氛热烈。",
    "{school}相关负责人介绍，学校今年新开设{project}相关专业方向，首批招收学生{n}名。",
    "工作人员逐一检查了消防通道、用电线路和应急照明，现场督促整改隐患{n}处。",
    "{org}提醒广大市民，如发现相关问题，可拨打12345政务服务便民热线反映。",
    "项目负责人{person}告诉记者，目前主体结构已完成{pct}%，预计{month}月底前完成设备安装。",
    "{town}党(工)委负责人表示，将以此为契机，进一步完善{thing}运营管理机制。",
    "据了解，{place}片区共有{n}个老旧小区，涉及居民{big}户，改造内容包括屋面防水、管网更新等。",
    "当天，{org}还发布了{n}条{adj}服务举措，涵盖{benefit}、出行、教育等多个方面。",
    "在{project}车间，机械臂有序运转，一块块产品经过检测后被送上传送带。",
    "业内人士分析，{project}行业正处于转型升级关键期，镇江在{adj}发展方面具备一定基础。",
    "{person}表示，希望通过这次活动，让更多{group}了解镇江、爱上镇江。",
    "今年{month}月，{district}与{school}签署合作框架协议，双方将在人才培养、技术攻关等方面深化合作。",
    "当前正值{season}时节，{place}层林尽染，吸引了不少市民前来打卡拍照。",
    "围绕{project}产业，{district}已集聚上下游企业{n}家，形成较为完整的产业链条。",
    "{org}通报，{month}月份共受理{group}相关诉求{big}件，办结率达{pct}%。",
)
COMMENT_SENTENCES = (
    "■{adj}不是一句口号，而是要落到{group}看得见、摸得着的变化上。",
    "■{thing}建得好，更要管得好、用得好，这考验的是城市治理的耐心。",
    "■{project}项目跑出加速度，背后是{district}营商环境的持续优化。",
)
JOBS = ("网格员", "环卫工人", "社区医生", "公交司机", "快递员", "乡村教师", "消防员", "民警")
CAPTIONS = (
    "{event}现场。", "{place}一角。", "{project}项目施工现场。", "{group}在{thing}参加活动。",
    "工作人员在{town}开展检查。", "{school}学生参加{event}。", "游客在{place}游览。",
)

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "蒋", "蔡", "贾", "丁", "魏", "薛", "叶", "盛", "龚", "缪", "戴", "殷", "眭", "笪",
)
GIVEN = (
    "志奎", "海蓉", "瑾", "逍遥", "洁", "林娟", "晓东", "雪梅", "建华", "玉兰", "文杰", "思远",
    "佩佩", "小兵", "道韫", "镇丹", "呈", "斌", "叶青", "婧", "晨曦", "一鸣", "静怡", "子涵", "浩然",
    "嘉伟", "雨婷", "俊峰", "明轩", "秀英", "丽娜", "国强", "伟", "敏", "磊", "超", "欣然", "梓萱",
    "宏亮", "振宇", "春燕", "冬梅", "海涛", "立新", "卫东", "琳", "颖", "莉", "倩", "昊", "鹏飞",
    "亚楠", "婉清", "松林", "向阳", "安琪", "若曦", "宇航", "其昌", "德胜",
)
#: given names with characters outside GB2312 but inside GBK (the old pages must carry some)
GIVEN_GBK_ONLY = ("堃", "镕", "喆", "玥", "昇", "堃宇", "玥彤", "喆涵")


def person(rng: random.Random) -> str:
    """A plausible 2–3 character name (surname + given name)."""
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def people(rng: random.Random, k: int, *, avoid: set[str] | None = None) -> list[str]:
    """``k`` distinct names, none in ``avoid`` (so one name never holds two roles in an article)."""
    taken = set(avoid or ())
    out: list[str] = []
    while len(out) < k:
        name = person(rng)
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


_MAKERS: dict[str, Callable[[random.Random, int, int], object]] = {
    "district": lambda rng, m, d: rng.choice(DISTRICTS), "town": lambda rng, m, d: rng.choice(TOWNS),
    "place": lambda rng, m, d: rng.choice(PLACES), "project": lambda rng, m, d: rng.choice(PROJECTS),
    "org": lambda rng, m, d: rng.choice(ORGS), "group": lambda rng, m, d: rng.choice(GROUPS),
    "event": lambda rng, m, d: rng.choice(EVENTS), "school": lambda rng, m, d: rng.choice(SCHOOLS),
    "thing": lambda rng, m, d: rng.choice(THINGS), "done": lambda rng, m, d: rng.choice(VERBS_DONE),
    "season": lambda rng, m, d: rng.choice(SEASONS), "adj": lambda rng, m, d: rng.choice(ADJ),
    "benefit": lambda rng, m, d: rng.choice(BENEFITS), "job": lambda rng, m, d: rng.choice(JOBS),
    "person": lambda rng, m, d: person(rng), "n": lambda rng, m, d: rng.randint(2, 96),
    "big": lambda rng, m, d: rng.randint(120, 98000), "pct": lambda rng, m, d: rng.randint(3, 98),
    "money": lambda rng, m, d: rng.randint(2, 180), "money2": lambda rng, m, d: rng.randint(5, 600),
    "month": lambda rng, m, d: rng.randint(1, 12), "date": lambda rng, m, d: f"{m}月{d}日",
    "years": lambda rng, m, d: rng.randint(3, 32), "period": lambda rng, m, d: rng.choice(PERIODS),
}


@lru_cache(maxsize=512)
def _slot_names(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for _, name, _, _ in Formatter().parse(template) if name))


def fill(template: str, rng: random.Random, month: int = 10, day: int = 1) -> str:
    """``template`` with its slots filled from fresh random values (only the slots it uses are drawn,
    which keeps page generation fast enough for the crawl benchmark)."""
    return template.format(**{name: _MAKERS[name](rng, month, day) for name in _slot_names(template)})


def title(rng: random.Random) -> str:
    """A headline."""
    return fill(rng.choice(TITLE_TEMPLATES), rng)


def paragraphs(rng: random.Random, count: int, month: int, day: int) -> list[str]:
    """``count`` paragraphs of 2–4 sentences; templates are dealt from a shuffled deck, so an
    article repeats a sentence pattern only after using them all."""
    deck: list[str] = []
    out = []
    for _ in range(count):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            if not deck:
                deck = rng.sample(SENTENCES, len(SENTENCES))
            sentences.append(fill(deck.pop(), rng, month, day))
        out.append("".join(sentences))
    return out


def commentary_opening(rng: random.Random) -> str:
    """The first paragraph of a 金山热评 commentary, which opens with "■"."""
    return fill(rng.choice(COMMENT_SENTENCES), rng)


def caption(rng: random.Random) -> str:
    """A caption sentence, without its photographer credit."""
    return fill(rng.choice(CAPTIONS), rng)


_WS = re.compile(r"\s+")


def collapse(text: str) -> str:
    """Whitespace runs to one ASCII space, trimmed: the contract's paragraph normalisation."""
    return _WS.sub(" ", text).strip()
