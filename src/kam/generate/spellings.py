"""Value spellings, (zh, en), and text columns spelled both ways."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ORDER_STATUS = (("已完成", "completed"), ("已取消", "cancelled"), ("退货", "returned"))
COMPLETED, CANCELLED, RETURNED = 0, 1, 2
ACCOUNT_STATUS = (("正常", "active"), ("已关闭", "closed"), ("黑名单", "blacklisted"))
ACTIVE, CLOSED, BLACKLISTED = 0, 1, 2
RELATIONSHIP = (("普通", "ordinary"), ("伙伴式", "partner"), ("战略性", "strategic"))
ACTIVITY_TYPES = (
    ("拜访", "visit"),
    ("电话", "call"),
    ("会议", "meeting"),
    ("培训", "training"),
    ("投诉", "complaint"),
    ("调研", "survey"),
)
FLAG = (("否", "false"), ("是", "true"))
INVOICE_STATUS = (("未结清", "open"), ("已结清", "paid"), ("部分付款", "partial"))
OPEN, PAID, PARTLY_PAID = 0, 1, 2
CHANNELS = (("直销", "direct"), ("经销", "distributor"), ("电商", "online"))
METHODS = (("银行转账", "bank_transfer"), ("承兑汇票", "acceptance_bill"), ("支票", "cheque"))
CREDIT_RATINGS = ("A", "B", "C", "D")
RATING_D = 3
CURRENCY = "CNY"

SURNAMES = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
    ("杨", "Yang"), ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"),
    ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"),
    ("郭", "Guo"), ("何", "He"), ("林", "Lin"), ("高", "Gao"), ("罗", "Luo"),
    ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"), ("唐", "Tang"),
    ("韩", "Han"), ("冯", "Feng"), ("邓", "Deng"), ("曹", "Cao"), ("彭", "Peng"),
)  # fmt: skip
GIVEN_NAMES = (
    ("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"),
    ("丽", "Li"), ("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"), ("洋", "Yang"),
    ("勇", "Yong"), ("艳", "Yan"), ("杰", "Jie"), ("娟", "Juan"), ("涛", "Tao"),
    ("明", "Ming"), ("超", "Chao"), ("秀英", "Xiuying"), ("霞", "Xia"), ("平", "Ping"),
    ("刚", "Gang"), ("桂英", "Guiying"), ("建华", "Jianhua"), ("晓东", "Xiaodong"),
    ("志强", "Zhiqiang"), ("海燕", "Haiyan"), ("文博", "Wenbo"), ("子涵", "Zihan"),
    ("浩然", "Haoran"), ("雨轩", "Yuxuan"),
)  # fmt: skip
REGIONS = (
    ("华东", "East China"), ("华北", "North China"), ("华南", "South China"),
    ("华中", "Central China"), ("西南", "Southwest China"), ("西北", "Northwest China"),
    ("东北", "Northeast China"),
)  # fmt: skip
CITIES = (  # zh, en, region, weight
    ("上海", "Shanghai", 0, 8), ("杭州", "Hangzhou", 0, 5), ("南京", "Nanjing", 0, 4),
    ("苏州", "Suzhou", 0, 4), ("宁波", "Ningbo", 0, 3), ("合肥", "Hefei", 0, 2),
    ("济南", "Jinan", 0, 2), ("青岛", "Qingdao", 0, 3), ("福州", "Fuzhou", 0, 2),
    ("厦门", "Xiamen", 0, 2), ("北京", "Beijing", 1, 8), ("天津", "Tianjin", 1, 4),
    ("石家庄", "Shijiazhuang", 1, 2), ("太原", "Taiyuan", 1, 1), ("呼和浩特", "Hohhot", 1, 1),
    ("广州", "Guangzhou", 2, 6), ("深圳", "Shenzhen", 2, 7), ("东莞", "Dongguan", 2, 3),
    ("佛山", "Foshan", 2, 3), ("南宁", "Nanning", 2, 1), ("海口", "Haikou", 2, 1),
    ("武汉", "Wuhan", 3, 4), ("长沙", "Changsha", 3, 3), ("郑州", "Zhengzhou", 3, 3),
    ("南昌", "Nanchang", 3, 2), ("成都", "Chengdu", 4, 5), ("重庆", "Chongqing", 4, 4),
    ("昆明", "Kunming", 4, 2), ("贵阳", "Guiyang", 4, 1), ("西安", "Xi'an", 5, 3),
    ("兰州", "Lanzhou", 5, 1), ("乌鲁木齐", "Urumqi", 5, 1), ("沈阳", "Shenyang", 6, 2),
    ("大连", "Dalian", 6, 2), ("长春", "Changchun", 6, 1), ("哈尔滨", "Harbin", 6, 2),
)  # fmt: skip
INDUSTRIES = (  # industry zh, en, name word zh, en
    ("制造业", "Manufacturing", "机械", "Machinery"),
    ("批发零售", "Wholesale and Retail", "商贸", "Trading"),
    ("建筑工程", "Construction", "建设", "Construction"),
    ("医药健康", "Healthcare", "医药", "Pharmaceutical"),
    ("电子信息", "Electronics", "电子", "Electronics"),
    ("汽车配件", "Automotive Parts", "汽配", "Auto Parts"),
    ("化工", "Chemicals", "化工", "Chemical"),
    ("食品饮料", "Food and Beverage", "食品", "Foods"),
    ("物流运输", "Logistics", "物流", "Logistics"),
    ("能源电力", "Energy", "能源", "Energy"),
    ("金融服务", "Financial Services", "投资", "Investment"),
    ("教育", "Education", "教育", "Education"),
)
BRANDS = (
    ("华信", "Huaxin"), ("宏达", "Hongda"), ("恒通", "Hengtong"), ("金鼎", "Jinding"),
    ("中科", "Zhongke"), ("远航", "Yuanhang"), ("鑫源", "Xinyuan"), ("天成", "Tiancheng"),
    ("博瑞", "Borui"), ("新华", "Xinhua"), ("永安", "Yongan"), ("东方", "Dongfang"),
    ("汇通", "Huitong"), ("鼎盛", "Dingsheng"), ("瑞丰", "Ruifeng"), ("国泰", "Guotai"),
    ("长江", "Changjiang"), ("泰和", "Taihe"), ("嘉禾", "Jiahe"), ("明珠", "Mingzhu"),
    ("海纳", "Haina"), ("盛世", "Shengshi"), ("锦程", "Jincheng"), ("星辰", "Xingchen"),
    ("安信", "Anxin"), ("德润", "Derun"), ("富源", "Fuyuan"), ("正大", "Zhengda"),
    ("凯达", "Kaida"), ("华美", "Huamei"), ("振华", "Zhenhua"), ("益民", "Yimin"),
    ("银河", "Yinhe"), ("通达", "Tongda"), ("九州", "Jiuzhou"), ("创新", "Chuangxin"),
    ("万通", "Wantong"), ("立信", "Lixin"), ("同创", "Tongchuang"), ("光明", "Guangming"),
)  # fmt: skip
LEGAL_FORMS = (
    ("有限公司", "Co., Ltd."),
    ("股份有限公司", "Corporation"),
    ("集团有限公司", "Group Co., Ltd."),
)
MOBILE_PREFIXES = (130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 158, 159, 186, 187, 188, 189)


@dataclass(frozen=True)
class Text:
    """A text column spelled two ways: Chinese (zh) and English/pinyin (en)."""

    zh: pa.Array
    en: pa.Array

    def spelled(self, headers: str) -> pa.Array:
        return self.zh if headers == "zh" else self.en


def vocabulary(pairs: Sequence[Sequence[str]], codes: np.ndarray) -> Text:
    """The (zh, en) spelling of integer codes into a list of pairs."""
    index = pa.array(np.asarray(codes, dtype=np.int64))
    zh = pa.array([pair[0] for pair in pairs]).take(index)
    en = pa.array([pair[1] for pair in pairs]).take(index)
    return Text(zh, en)


def joined(parts: Sequence[Text], zh_separator: str, en_separator: str) -> Text:
    """Concatenate text columns element-wise, with a separator per language."""
    zh = pc.binary_join_element_wise(*[p.zh for p in parts], zh_separator)
    en = pc.binary_join_element_wise(*[p.en for p in parts], en_separator)
    return Text(zh, en)


def person_names(codes: np.ndarray) -> Text:
    """Person names: code = surname * len(GIVEN_NAMES) + given name."""
    surname = vocabulary(SURNAMES, codes // len(GIVEN_NAMES))
    given = vocabulary(GIVEN_NAMES, codes % len(GIVEN_NAMES))
    return Text(
        pc.binary_join_element_wise(surname.zh, given.zh, ""),
        pc.binary_join_element_wise(given.en, surname.en, " "),
    )
