"""The municipality's lägesbild: anonymous aggregates only. It never sees a row of
personal data; case figures come from cases.aggregates as counts."""
