"""The local service spread over processes and machines: API servers and speech workers sharing one database.

database.py opens a database by URL (SQLite file or PostgreSQL) behind one small interface; schema.py versions its
tables; account.py is the API servers' backend over it; queue.py is the job queue's SQL (claims with leases);
worker.py is the speech worker process; inspect.py the operator's view of the queue.
"""
