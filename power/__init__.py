"""evtp.power"""
