"""金山网 archiver: discover, fetch, archive, extract and deduplicate the articles of www.jsw.com.cn.

The package follows the data flow of docs/architecture.md: ``text`` and ``extract`` are pure functions,
``fetch`` owns all network I/O, ``store`` all database I/O, ``crawl`` composes them, and ``cli`` is a
thin shell over ``crawl`` and ``store``.
"""

__version__ = "0.1.0"
