"""evtp.coupling"""
