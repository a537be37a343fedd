"""A small two-pass SM83 (Game Boy CPU) assembler with labels, enough to write the test cartridge in Python.

The syntax follows RGBDS, the assembler the pret disassemblies use: one instruction or directive a line,
``;`` comments, ``name:`` global labels and ``.name:`` local labels (scoped to the last global label),
``[hl+]`` / ``[hl-]`` / ``[c]`` memory operands, ``ldh [n8], a``, ``ld hl, sp+e8``. Numbers are ``$FF``,
``0xFF``, ``%1010``, ``0b1010`` or decimal; expressions use ``+ - * // & | ^ << >> ~`` and ``high()``,
``low()``. Directives: ``org ADDR`` (pads with zeros up to ADDR), ``db``, ``dw``, ``ds COUNT[, FILL]`` and
``NAME equ EXPR``.

Every SM83 instruction is supported (the tests assemble all 500 opcodes back from ``lr35902dis``'s
disassembly). Instruction sizes depend only on the syntax, so pass one lays out labels and pass two encodes.

>>> assemble("start: ld a, $12\\n jr start").hex()
'3e1218fc'
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

R8 = {"b": 0, "c": 1, "d": 2, "e": 3, "h": 4, "l": 5, "[hl]": 6, "a": 7}
R16 = {"bc": 0, "de": 1, "hl": 2, "sp": 3}
R16_STACK = {"bc": 0, "de": 1, "hl": 2, "af": 3}
CONDITIONS = {"nz": 0, "z": 1, "nc": 2, "c": 3}
ALU = {"add": 0, "adc": 1, "sub": 2, "sbc": 3, "and": 4, "xor": 5, "or": 6, "cp": 7}
ROTATES = {"rlc": 0, "rrc": 1, "rl": 2, "rr": 3, "sla": 4, "sra": 5, "swap": 6, "srl": 7}
BIT_OPS = {"bit": 0x40, "res": 0x80, "set": 0xC0}
NO_OPERAND = {
    "nop": 0x00, "halt": 0x76, "di": 0xF3, "ei": 0xFB, "daa": 0x27, "cpl": 0x2F, "scf": 0x37, "ccf": 0x3F,
    "rlca": 0x07, "rrca": 0x0F, "rla": 0x17, "rra": 0x1F, "reti": 0xD9,
}
#: Register and memory-register operand spellings (after lower-casing and removing spaces).
_REGISTER_WORDS = {*R8, *R16, "af", "[bc]", "[de]", "[hl+]", "[hl-]", "[hli]", "[hld]", "[c]", "[$ff00+c]"}
_LITERAL = re.compile(r"^\s*(?:\$([0-9A-Fa-f]+)|([0-9]+))\s*$")
_NUMBER = re.compile(r"\$([0-9A-Fa-f]+)|%([01]+)")
_NAME = re.compile(r"(?<![\w.$])(\.?[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)")
_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
                  ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.BitAnd, ast.BitOr, ast.BitXor,
                  ast.LShift, ast.RShift, ast.Invert, ast.USub, ast.UAdd)
_FUNCTIONS = {"high": lambda v: (v >> 8) & 0xFF, "low": lambda v: v & 0xFF}


class AssemblyError(ValueError):
    """A line the assembler cannot encode; the message names the line."""


@dataclass(frozen=True)
class Operand:
    """One parsed operand: ``kind`` is ``reg`` (a register or ``[reg]`` spelling), ``mem`` (``[expr]``),
    ``imm`` (an expression) or ``sp_offset`` (``sp+expr``); ``text`` is the register name or expression."""

    kind: str
    text: str


@dataclass
class Program:
    """The output of :func:`assemble_program`: the bytes and every label's address."""

    code: bytes
    origin: int
    symbols: dict[str, int] = field(default_factory=dict)


def _parse_operand(raw: str) -> Operand:
    text = raw.strip()
    compact = text.lower().replace(" ", "")
    if compact in _REGISTER_WORDS:
        aliases = {"[hli]": "[hl+]", "[hld]": "[hl-]", "[$ff00+c]": "[c]"}
        return Operand("reg", aliases.get(compact, compact))
    offset = re.match(r"(?i)^sp\s*([+-])\s*(.+)$", text)
    if offset:
        return Operand("sp_offset", ("" if offset.group(1) == "+" else "-") + "(" + offset.group(2) + ")")
    if text.startswith("[") and text.endswith("]"):
        return Operand("mem", text[1:-1].strip())
    return Operand("imm", text)


def _split_operands(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


class _Assembler:
    def __init__(self, origin: int, symbols: dict[str, int] | None) -> None:
        self.origin = origin
        self.predefined = dict(symbols or {})
        self.symbols: dict[str, int] = {}
        self.final = False
        self.scope = ""

    # ----------------------------------------------------------------------------- expressions
    def _qualify(self, name: str) -> str:
        return self.scope + name if name.startswith(".") else name

    def value(self, expr: str, line: int) -> int:
        """Evaluates ``expr``; in pass one unknown names count as zero (sizes never depend on values)."""
        literal = _LITERAL.match(expr)
        if literal:  # fast path: data tables are long runs of plain numbers
            hex_digits, decimal = literal.groups()
            return int(hex_digits, 16) if hex_digits else int(decimal)
        source = _NUMBER.sub(lambda m: str(int(m.group(1), 16)) if m.group(1) else str(int(m.group(2), 2)),
                             expr.strip())
        names: dict[str, str] = {}

        def rename(match: re.Match) -> str:
            name = self._qualify(match.group(1))
            if name in _FUNCTIONS:
                return name
            key = f"_n{len(names)}"
            names[key] = name
            return key

        source = _NAME.sub(rename, source)
        source = re.sub(r"(?<![\w])0[xX]([0-9A-Fa-f]+)", lambda m: str(int(m.group(1), 16)), source)
        source = re.sub(r"(?<![\w])0[bB]([01]+)", lambda m: str(int(m.group(1), 2)), source)
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError:
            raise AssemblyError(f"line {line}: cannot parse expression {expr!r}") from None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED_NODES) or (isinstance(node, ast.Constant)
                                                         and type(node.value) is not int):
                raise AssemblyError(f"line {line}: unsupported expression {expr!r}")
            known_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _FUNCTIONS
            if isinstance(node, ast.Call) and not known_call:
                raise AssemblyError(f"line {line}: unknown function in {expr!r}")
        env: dict[str, object] = dict(_FUNCTIONS)
        for key, name in names.items():
            if name in self.symbols:
                env[key] = self.symbols[name]
            elif name in self.predefined:
                env[key] = self.predefined[name]
            elif self.final:
                raise AssemblyError(f"line {line}: undefined symbol {name!r}")
            else:
                env[key] = 0
        return int(eval(compile(tree, "<expr>", "eval"), {"__builtins__": {}}, env))

    def byte(self, expr: str, line: int, signed_ok: bool = True) -> int:
        value = self.value(expr, line)
        if self.final and not (-128 if signed_ok else 0) <= value <= 255:
            raise AssemblyError(f"line {line}: {expr!r} = {value} does not fit in a byte")
        return value & 0xFF

    def word(self, expr: str, line: int) -> bytes:
        value = self.value(expr, line)
        if self.final and not -0x8000 <= value <= 0xFFFF:
            raise AssemblyError(f"line {line}: {expr!r} = {value} does not fit in 16 bits")
        return (value & 0xFFFF).to_bytes(2, "little")

    def offset(self, expr: str, line: int) -> int:
        value = self.value(expr, line)
        if self.final and not -128 <= value <= 127:
            raise AssemblyError(f"line {line}: offset {value} is outside -128..127")
        return value & 0xFF

    # ----------------------------------------------------------------------------- instructions
    def encode(self, mnemonic: str, ops: list[Operand], pc: int, line: int) -> bytes:
        """The bytes of one instruction at address ``pc``."""
        m = mnemonic
        n = len(ops)
        kinds = tuple(o.kind for o in ops)
        regs = tuple(o.text if o.kind == "reg" else None for o in ops)
        if m in NO_OPERAND and n == 0:
            return bytes([NO_OPERAND[m]])
        if m == "stop" and n <= 1:  # STOP is two bytes; the second is conventionally 0
            return bytes([0x10, self.byte(ops[0].text, line, signed_ok=False) if n else 0])
        if m == "ld":
            return self._ld(ops, regs, kinds, line)
        if m == "ldh" and n == 2:
            if regs == ("[c]", "a"):
                return b"\xe2"
            if regs == ("a", "[c]"):
                return b"\xf2"
            if kinds[0] == "mem" and regs[1] == "a":
                return bytes([0xE0, self._high_page(ops[0].text, line)])
            if regs[0] == "a" and kinds[1] == "mem":
                return bytes([0xF0, self._high_page(ops[1].text, line)])
        if m in ALU:
            if n == 2 and regs[0] == "a":
                ops, regs, kinds, n = ops[1:], regs[1:], kinds[1:], 1
            elif m == "add" and n == 2 and regs[0] == "hl" and regs[1] in R16:
                return bytes([0x09 | R16[regs[1]] << 4])
            elif m == "add" and n == 2 and regs[0] == "sp" and kinds[1] == "imm":
                return bytes([0xE8, self.offset(ops[1].text, line)])
            if n == 1 and regs[0] in R8:
                return bytes([0x80 | ALU[m] << 3 | R8[regs[0]]])
            if n == 1 and kinds[0] == "imm":
                return bytes([0xC6 | ALU[m] << 3, self.byte(ops[0].text, line)])
        if m in ("inc", "dec") and n == 1:
            if regs[0] in R8:
                return bytes([(0x04 if m == "inc" else 0x05) | R8[regs[0]] << 3])
            if regs[0] in R16:
                return bytes([(0x03 if m == "inc" else 0x0B) | R16[regs[0]] << 4])
        if m in ("push", "pop") and n == 1 and regs[0] in R16_STACK:
            return bytes([(0xC5 if m == "push" else 0xC1) | R16_STACK[regs[0]] << 4])
        if m in ("jp", "call", "jr", "ret"):
            return self._flow(m, ops, pc, line)
        if m == "rst" and n == 1:
            target = self.value(ops[0].text, line)
            if target not in range(0, 0x40, 8):
                raise AssemblyError(f"line {line}: rst target must be one of $00, $08, ... $38")
            return bytes([0xC7 | target])
        if m in ROTATES and n == 1 and regs[0] in R8:
            return bytes([0xCB, ROTATES[m] << 3 | R8[regs[0]]])
        if m in BIT_OPS and n == 2 and regs[1] in R8:
            bit = self.value(ops[0].text, line)
            if not 0 <= bit <= 7:
                raise AssemblyError(f"line {line}: bit number {bit} is outside 0..7")
            return bytes([0xCB, BIT_OPS[m] | bit << 3 | R8[regs[1]]])
        shown = ", ".join(o.text for o in ops)
        raise AssemblyError(f"line {line}: no SM83 instruction {mnemonic} {shown}".rstrip())

    def _high_page(self, expr: str, line: int) -> int:
        value = self.value(expr, line)
        if value >= 0xFF00:
            value -= 0xFF00
        if self.final and not 0 <= value <= 0xFF:
            raise AssemblyError(f"line {line}: ldh address {expr!r} is not in $FF00-$FFFF")
        return value & 0xFF

    def _ld(self, ops: list[Operand], regs: tuple, kinds: tuple, line: int) -> bytes:
        if len(ops) != 2:
            raise AssemblyError(f"line {line}: ld takes two operands")
        dst, src = regs
        if dst in R8 and src in R8 and not (dst == src == "[hl]"):
            return bytes([0x40 | R8[dst] << 3 | R8[src]])
        if dst in R8 and kinds[1] == "imm":
            return bytes([0x06 | R8[dst] << 3, self.byte(ops[1].text, line)])
        if dst in R16 and kinds[1] == "imm":
            return bytes([0x01 | R16[dst] << 4]) + self.word(ops[1].text, line)
        stores = {"[bc]": 0x02, "[de]": 0x12, "[hl+]": 0x22, "[hl-]": 0x32, "[c]": 0xE2}
        loads = {"[bc]": 0x0A, "[de]": 0x1A, "[hl+]": 0x2A, "[hl-]": 0x3A, "[c]": 0xF2}
        if src == "a" and dst in stores:
            return bytes([stores[dst]])
        if dst == "a" and src in loads:
            return bytes([loads[src]])
        if kinds[0] == "mem" and src == "a":
            return b"\xea" + self.word(ops[0].text, line)
        if dst == "a" and kinds[1] == "mem":
            return b"\xfa" + self.word(ops[1].text, line)
        if kinds[0] == "mem" and src == "sp":
            return b"\x08" + self.word(ops[0].text, line)
        if dst == "sp" and src == "hl":
            return b"\xf9"
        if dst == "hl" and kinds[1] == "sp_offset":
            return bytes([0xF8, self.offset(ops[1].text, line)])
        raise AssemblyError(f"line {line}: no SM83 instruction ld {ops[0].text}, {ops[1].text}")

    def _flow(self, m: str, ops: list[Operand], pc: int, line: int) -> bytes:
        cond = None
        if len(ops) == 2 or (m == "ret" and len(ops) == 1):
            name = ops[0].text.lower().replace(" ", "")
            if name not in CONDITIONS:
                raise AssemblyError(f"line {line}: {ops[0].text!r} is not a condition (nz, z, nc, c)")
            cond = CONDITIONS[name]
            ops = ops[1:]
        if m == "ret":
            return b"\xc9" if cond is None else bytes([0xC0 | cond << 3])
        if len(ops) != 1:
            raise AssemblyError(f"line {line}: {m} takes a target")
        if m == "jp" and ops[0].kind == "reg" and ops[0].text in ("hl", "[hl]"):
            if cond is not None:
                raise AssemblyError(f"line {line}: jp hl takes no condition")
            return b"\xe9"
        if ops[0].kind != "imm":
            raise AssemblyError(f"line {line}: {m} target must be an address, not {ops[0].text!r}")
        if m == "jr":
            opcode = 0x18 if cond is None else 0x20 | cond << 3
            return bytes([opcode, self.offset(f"({ops[0].text}) - {pc + 2}", line)])
        base = {"jp": (0xC3, 0xC2), "call": (0xCD, 0xC4)}[m]
        opcode = base[0] if cond is None else base[1] | cond << 3
        return bytes([opcode]) + self.word(ops[0].text, line)

    # ----------------------------------------------------------------------------- passes
    def run(self, source: str) -> bytes:
        out = bytearray()
        self.scope = ""
        for number, raw in enumerate(source.splitlines(), start=1):
            text = raw.split(";", 1)[0].strip()
            while True:
                label = re.match(r"^(\.?[A-Za-z_]\w*)(::?)\s*", text)
                if not label or (label.group(0).rstrip()[-1] != ":"):
                    break
                name = label.group(1)
                if not name.startswith("."):
                    self.scope = name
                qualified = self._qualify(name)
                address = self.origin + len(out)
                if not self.final:
                    if qualified in self.symbols:
                        raise AssemblyError(f"line {number}: label {qualified!r} defined twice")
                    self.symbols[qualified] = address
                text = text[label.end():].strip()
            if not text:
                continue
            equ = re.match(r"^([A-Za-z_]\w*)\s+(?:equ|EQU|=)\s+(.+)$", text)
            if equ:
                if not self.final:
                    if equ.group(1) in self.symbols:
                        raise AssemblyError(f"line {number}: symbol {equ.group(1)!r} defined twice")
                    self.symbols[equ.group(1)] = self.value(equ.group(2), number)
                continue
            word, _, rest = text.partition(" ")
            mnemonic = word.lower()
            operands = _split_operands(rest)
            pc = self.origin + len(out)
            if mnemonic == "org":
                target = self.value(operands[0], number)
                if target < pc:
                    raise AssemblyError(f"line {number}: org ${target:04X} is behind the current ${pc:04X}")
                out.extend(bytes(target - pc))
            elif mnemonic == "db":
                out.extend(self.byte(o, number, signed_ok=True) for o in operands)
            elif mnemonic == "dw":
                for o in operands:
                    out.extend(self.word(o, number))
            elif mnemonic == "ds":
                count = self.value(operands[0], number)
                fill = self.byte(operands[1], number) if len(operands) > 1 else 0
                out.extend(bytes([fill]) * count)
            else:
                out.extend(self.encode(mnemonic, [_parse_operand(o) for o in operands], pc, number))
        return bytes(out)


def assemble_program(source: str, origin: int = 0, symbols: dict[str, int] | None = None) -> Program:
    """Assembles ``source`` placed at address ``origin``; ``symbols`` predefines names (constants, addresses).

    Raises :class:`AssemblyError` naming the line for an unknown instruction, an undefined or duplicate
    label, or a value out of range.
    """
    first = _Assembler(origin, symbols)
    first.run(source)
    second = _Assembler(origin, symbols)
    second.symbols = dict(first.symbols)
    second.final = True
    code = second.run(source)
    return Program(code=code, origin=origin, symbols=dict(first.symbols))


def assemble(source: str, origin: int = 0, symbols: dict[str, int] | None = None) -> bytes:
    """Assembles ``source`` at ``origin`` and returns only the bytes; see :func:`assemble_program`."""
    return assemble_program(source, origin, symbols).code
