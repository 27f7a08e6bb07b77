"""Record.txid: the writing transaction's id, the read API's cursor order (txid, id).

Existing records get 0 first, then the column's default becomes the writing transaction: every
existing record sorts before every new one and among themselves by id, their order until now, so
a reader's old integer cursor still points at the same place. Adding the column with a constant
default and setting the volatile one afterwards spares PostgreSQL a rewrite of the table.
"""

from django.db import migrations, models

import leadpost.records.models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0004_record_routed_on_record_routing_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="record",
            name="txid",
            field=models.BigIntegerField(db_default=models.Value(0), editable=False),
        ),
        migrations.AlterField(
            model_name="record",
            name="txid",
            field=models.BigIntegerField(
                db_default=leadpost.records.models.WritingTransaction(), editable=False
            ),
        ),
        migrations.AddIndex(
            model_name="record",
            index=models.Index(fields=["account", "txid", "id"], name="record_account_cursor"),
        ),
    ]
