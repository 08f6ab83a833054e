"""Portuguese labels for Klavi permission names, for the consent screens.

Wording follows the Open Finance Brasil consent journey (UX guide): each Klavi permission is
a whole OFB permission group (domain.md §1.5), shown to the user as one line with a short
description of what it covers.
"""

from __future__ import annotations

# Klavi permission name -> (label, description)
PERMISSION_LABELS: dict[str, tuple[str, str]] = {
    "REGISTRATION_ALL": (
        "Dados cadastrais",
        "Nome ou razão social, CPF ou CNPJ, data de nascimento, filiação, endereço, telefone "
        "e e-mail, além de informações complementares como renda, profissão e patrimônio.",
    ),
    "ACCOUNTS_ALL": (
        "Dados de contas",
        "Contas corrente, poupança e de pagamento: agência e número, saldos, limites "
        "(cheque especial) e extratos de transações.",
    ),
    "CREDIT_CARDS_ALL": (
        "Dados de cartão de crédito",
        "Limites, transações e faturas dos seus cartões de crédito.",
    ),
    "CREDIT_OPERATIONS_ALL": (
        "Operações de crédito",
        "Empréstimos, financiamentos, adiantamento a depositantes e direitos creditórios "
        "descontados: dados do contrato, garantias, parcelas e pagamentos.",
    ),
    "INVESTMENTS_ALL": (
        "Investimentos",
        "Renda fixa bancária e de crédito, renda variável, títulos do Tesouro Direto e "
        "fundos de investimento: posições e movimentações.",
    ),
}

# Finer-grained names some clients send (klavi-api.md §3.3, [3rd-party]).
DETAILED_PERMISSION_LABELS: dict[str, tuple[str, str]] = {
    "CREDIT_OPERATIONS_LOANS": (
        "Empréstimos",
        "Contratos de empréstimo: valores, taxas, garantias, parcelas e pagamentos.",
    ),
    "CREDIT_OPERATIONS_FINANCINGS": (
        "Financiamentos",
        "Contratos de financiamento: valores, taxas, garantias, parcelas e pagamentos.",
    ),
    "CREDIT_OPERATIONS_UNARRANGED_ACCOUNTS_OVERDRAFT": (
        "Adiantamento a depositantes",
        "Uso de saldo além do limite contratado: valores, encargos e pagamentos.",
    ),
    "CREDIT_OPERATIONS_INVOICE_FINANCINGS": (
        "Direitos creditórios descontados",
        "Antecipação de recebíveis, duplicatas e cheques: contratos, parcelas e pagamentos.",
    ),
    "INVESTMENTS_BANK_FIXED_INCOMES": (
        "Renda fixa bancária",
        "CDB, RDB, LCI e LCA: posições e movimentações.",
    ),
    "INVESTMENTS_CREDIT_FIXED_INCOMES": (
        "Renda fixa de crédito",
        "Debêntures, CRI, CRA e similares: posições e movimentações.",
    ),
    "INVESTMENTS_VARIABLE_INCOMES": (
        "Renda variável",
        "Ações, BDRs, ETFs e FIIs: posições e movimentações.",
    ),
    "INVESTMENTS_TREASURE_TITLES": (
        "Títulos do Tesouro Direto",
        "Títulos públicos federais: posições e movimentações.",
    ),
    "INVESTMENTS_FUNDS": (
        "Fundos de investimento",
        "Cotas de fundos de investimento: posições e movimentações.",
    ),
}


def permission_label(code: str) -> tuple[str, str]:
    """(label, description) for a permission name; unknown names are shown as-is."""
    return PERMISSION_LABELS.get(code) or DETAILED_PERMISSION_LABELS.get(code) or (code, "")


def permission_items(codes) -> list[dict[str, str]]:
    """The `permissions` list the consent templates expect: [{code, label, description}]."""
    items = []
    for code in codes:
        label, description = permission_label(code)
        items.append({"code": code, "label": label, "description": description})
    return items
